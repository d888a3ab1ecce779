-- An operator resumes a paused queue: it may be ready now (the next claim
-- finds out). Writes nothing when the queue is not paused.
-- Binds: now, now, scope, queue.
UPDATE queuetopia_queues SET
    paused_at = NULL,
    paused_by = NULL,
    ready_at = LEAST(COALESCE(ready_at, ?), ?)
WHERE scope = ? AND queue = ? AND paused_at IS NOT NULL
