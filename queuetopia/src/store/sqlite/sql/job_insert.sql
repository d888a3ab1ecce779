-- Creates jobs; a batch repeats the row of binds, one per job (see
-- `super::multi_row`). SQLite inserts the rows in the order written and,
-- with AUTOINCREMENT under the write lock, gives them consecutive ids: the
-- caller takes them from the last one (a RETURNING clause would send each
-- id on its own from sqlx's worker thread, most of a batch's time).
-- Binds per row: scope, queue, action, params, sequence, scheduled_at,
-- timeout, max backoff, max attempts, exhaustion policy, now, now.
INSERT INTO queuetopia_jobs (
    scope, queue, action, params, sequence, scheduled_at,
    timeout_ms, max_backoff_ms, max_attempts, on_exhausted, inserted_at, updated_at
)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
