INSERT INTO queuetopia_migrations (version, applied_at) VALUES (?, UTC_TIMESTAMP(6))
