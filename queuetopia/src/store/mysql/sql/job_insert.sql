-- Creates a job; a batch repeats the row of binds, one per job (see
-- `Repeated`). Binds per row: scope, queue, action, params, sequence,
-- scheduled_at, timeout, max backoff, max attempts, exhaustion policy,
-- now, now.
INSERT INTO queuetopia_jobs (
    scope, queue, action, params, sequence, scheduled_at,
    timeout_ms, max_backoff_ms, max_attempts, on_exhausted, inserted_at, updated_at
)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
