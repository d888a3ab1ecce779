-- Whether the migrations table exists in the connection's database.
SELECT COUNT(*) > 0 FROM information_schema.tables
WHERE table_schema = DATABASE() AND table_name = 'queuetopia_migrations'
