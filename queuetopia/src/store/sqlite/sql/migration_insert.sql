-- Records a migration, with the time in microseconds since the Unix epoch.
INSERT INTO queuetopia_migrations (version, applied_at)
VALUES (?1, CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER))
