-- An operator resumes a paused queue: it may be ready now (the next claim
-- finds out). Writes nothing when the queue is not paused.
-- ?1 scope, ?2 queue, ?3 now.
UPDATE queuetopia_queues SET
    paused_at = NULL,
    paused_by = NULL,
    ready_at = min(COALESCE(ready_at, ?3), ?3)
WHERE scope = ?1 AND queue = ?2 AND paused_at IS NOT NULL
