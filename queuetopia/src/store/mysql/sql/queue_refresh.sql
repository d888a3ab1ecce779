-- Writes a queue's row as recomputed from its head (see `refresh`).
-- Binds: clear the running attempt, release the lock (x3), ready_at,
-- blocked_since, scope, queue.
UPDATE queuetopia_queues SET
    running_job_id = CASE WHEN ? THEN NULL ELSE running_job_id END,
    locked_by = CASE WHEN ? THEN NULL ELSE locked_by END,
    locked_until = CASE WHEN ? THEN NULL ELSE locked_until END,
    lock_token = CASE WHEN ? THEN NULL ELSE lock_token END,
    ready_at = ?,
    blocked_since = ?
WHERE scope = ? AND queue = ?
