-- One migrator at a time per database and placement, whatever the number of
-- nodes (a named lock: DDL commits on its own in MySQL, so a transaction
-- cannot hold it). Waits up to 60 s.
SELECT GET_LOCK(CONCAT(DATABASE(), '.queuetopia_migrations'), 60)
