-- Before a result is written: lock the queue's row, and check that its lock
-- is still the one this attempt was claimed under.
-- Binds: scope, queue, node, job id, lock token.
SELECT 1
FROM queuetopia_queues
WHERE scope = ? AND queue = ?
  AND locked_by = ? AND running_job_id = ? AND lock_token = ?
FOR UPDATE
