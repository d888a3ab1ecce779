-- One migrator at a time per placement, whatever the number of nodes.
SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.queuetopia_migrations'))
