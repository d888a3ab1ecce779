SELECT RELEASE_LOCK(CONCAT(DATABASE(), '.queuetopia_migrations'))
