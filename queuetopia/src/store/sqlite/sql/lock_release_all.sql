-- After a clean shutdown: release the locks a node still holds without a
-- running attempt (those kept after a timeout). The queues become ready at
-- once, so the next claim recomputes them. ?1 scope, ?2 node, ?3 now.
UPDATE queuetopia_queues SET
    locked_by = NULL, locked_until = NULL, lock_token = NULL,
    ready_at = min(COALESCE(ready_at, ?3), ?3)
WHERE scope = ?1 AND locked_by = ?2 AND running_job_id IS NULL
