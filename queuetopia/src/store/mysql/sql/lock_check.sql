-- Before a result is written: lock the queue's row, waiting for it, and
-- tell whether its lock is still the one this attempt was claimed under
-- (no row: the queue is gone); with what the refresh after the write needs
-- of the row, and the database's clock. queue_try_lock.sql is the same
-- without waiting. Binds: node, job id, lock token, scope, queue.
SELECT (locked_by <=> ? AND running_job_id <=> ? AND lock_token <=> ?) AS owned,
       locked_until, blocked_since, UTC_TIMESTAMP(6) AS now
FROM queuetopia_queues
WHERE scope = ? AND queue = ?
FOR UPDATE
