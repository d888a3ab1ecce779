-- Operators' actions, one row each, written in the action's own
-- transaction. Times are microseconds since the Unix epoch (UTC).
CREATE TABLE queuetopia_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scope TEXT NOT NULL,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    queue TEXT,
    job_id INTEGER,
    reason TEXT,
    params_before TEXT,
    params_after TEXT
);

-- Reading pages newest first, by scope or by job; retention deletes the oldest.
CREATE INDEX queuetopia_audit_scope_id ON queuetopia_audit (scope, id);
CREATE INDEX queuetopia_audit_job ON queuetopia_audit (scope, job_id, id);
CREATE INDEX queuetopia_audit_scope_at ON queuetopia_audit (scope, at);
