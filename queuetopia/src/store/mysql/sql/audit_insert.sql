-- One operator action, in the action's transaction. Binds: scope, now,
-- actor, action, queue, job id, reason, params before, params after (JSON).
INSERT INTO queuetopia_audit
    (scope, at, actor, action, queue, job_id, reason, params_before, params_after)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
