SELECT max(version) FROM queuetopia_migrations
