-- The queues whose time has come, whose lock is free and that are not
-- paused, first ready first.
-- ?1 scope, ?2 now, ?3 how many.
SELECT queue, running_job_id
FROM queuetopia_queues
WHERE scope = ?1
  AND ready_at <= ?2
  AND (locked_until IS NULL OR locked_until <= ?2)
  AND paused_at IS NULL
ORDER BY ready_at
LIMIT ?3
