-- Locks the rows of the queues whose time has come and whose lock is free,
-- first ready first, skipping rows another transaction holds.
-- Binds: scope, now, now, how many.
SELECT queue, running_job_id
FROM queuetopia_queues
WHERE scope = ?
  AND ready_at <= ?
  AND (locked_until IS NULL OR locked_until <= ?)
ORDER BY ready_at
LIMIT ?
FOR UPDATE SKIP LOCKED
