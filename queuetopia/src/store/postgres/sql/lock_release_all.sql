-- After a clean shutdown: release the locks a node still holds without a
-- running attempt (those kept after a timeout). The queues become ready at
-- once, so the next claim recomputes them. $1 scope, $2 node, $3 clock.
WITH released AS (
    UPDATE queuetopia_queues SET
        locked_by = NULL, locked_until = NULL, lock_token = NULL,
        ready_at = LEAST(ready_at, COALESCE($3::timestamptz, now()))
    WHERE scope = $1 AND locked_by = $2 AND running_job_id IS NULL
    RETURNING 1
)
SELECT count(*) FROM released
