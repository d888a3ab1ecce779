-- One operator action, in the action's transaction. ?1 scope, ?2 now,
-- ?3 actor, ?4 action, ?5 queue, ?6 job id, ?7 reason, ?8 params before,
-- ?9 params after (JSON).
INSERT INTO queuetopia_audit
    (scope, at, actor, action, queue, job_id, reason, params_before, params_after)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
