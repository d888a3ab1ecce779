SELECT MAX(version) FROM queuetopia_migrations
