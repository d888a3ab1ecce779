-- Creates one job; returns its id (the caller has the rest). ?1 scope,
-- ?2 queue, ?3 action, ?4 params, ?5 sequence, ?6 scheduled_at, ?7 timeout,
-- ?8 max backoff, ?9 max attempts, ?10 exhaustion policy, ?11 now.
INSERT INTO queuetopia_jobs (
    scope, queue, action, params, sequence, scheduled_at,
    timeout_ms, max_backoff_ms, max_attempts, on_exhausted, inserted_at, updated_at
)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)
RETURNING id
