DELETE FROM queuetopia_migrations WHERE version = ?
