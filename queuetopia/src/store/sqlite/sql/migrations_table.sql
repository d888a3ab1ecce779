CREATE TABLE IF NOT EXISTS queuetopia_migrations (
    version INTEGER PRIMARY KEY,
    applied_at INTEGER NOT NULL
)
