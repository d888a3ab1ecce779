-- Locks the rows of the queues whose time has come, whose lock is free and
-- that are not paused, first ready first, skipping rows another transaction holds.
-- Binds: scope, now, now, how many.
SELECT queue, running_job_id
FROM queuetopia_queues
WHERE scope = ?
  AND paused_at IS NULL
  AND ready_at <= ?
  AND (locked_until IS NULL OR locked_until <= ?)
ORDER BY ready_at
LIMIT ?
FOR UPDATE SKIP LOCKED
