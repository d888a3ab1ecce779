-- Operators' actions, one row each, written in the action's own transaction.
CREATE TABLE queuetopia_audit (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    queue TEXT,
    job_id BIGINT,
    reason TEXT,
    params_before JSONB,
    params_after JSONB
);

-- Reading pages newest first, by scope or by job; retention deletes the oldest.
CREATE INDEX queuetopia_audit_scope_id ON queuetopia_audit (scope, id);
CREATE INDEX queuetopia_audit_job ON queuetopia_audit (scope, job_id, id);
CREATE INDEX queuetopia_audit_scope_at ON queuetopia_audit (scope, at);
