INSERT INTO queuetopia_migrations (version) VALUES ($1)
