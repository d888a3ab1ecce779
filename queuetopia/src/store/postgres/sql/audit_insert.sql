-- One operator action, in the action's transaction. $1 scope, $2 pinned
-- clock or NULL, $3 actor, $4 action, $5 queue, $6 job id, $7 reason,
-- $8 params before, $9 params after (JSON text).
INSERT INTO queuetopia_audit
    (scope, at, actor, action, queue, job_id, reason, params_before, params_after)
VALUES ($1, COALESCE($2::timestamptz, now()), $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb)
