-- After a clean shutdown: release the locks a node still holds without a
-- running attempt (those kept after a timeout). The queues become ready at
-- once, so the next claim recomputes them. Binds: now, now, scope, node.
UPDATE queuetopia_queues SET
    locked_by = NULL, locked_until = NULL, lock_token = NULL,
    ready_at = LEAST(COALESCE(ready_at, ?), ?)
WHERE scope = ? AND locked_by = ? AND running_job_id IS NULL
