-- Operators' actions, one row each, written in the action's own
-- transaction. Times are DATETIME(6) in UTC.
CREATE TABLE queuetopia_audit (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    scope VARBINARY(255) NOT NULL,
    at DATETIME(6) NOT NULL,
    actor VARBINARY(255) NOT NULL,
    action VARCHAR(16) NOT NULL,
    queue VARBINARY(255) NULL,
    job_id BIGINT NULL,
    reason LONGTEXT NULL,
    params_before LONGTEXT NULL,
    params_after LONGTEXT NULL,
    -- Reading pages newest first, by scope or by job; retention deletes the oldest.
    KEY queuetopia_audit_scope_id (scope, id),
    KEY queuetopia_audit_job (scope, job_id, id),
    KEY queuetopia_audit_scope_at (scope, at)
) ENGINE = InnoDB;
