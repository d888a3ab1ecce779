-- Before a result is written: lock its queue's row, waiting for it (no
-- row: the queue is gone), with what tells whether its lock is still the
-- one the attempt was claimed under, what the refresh after the write
-- needs, and the database's clock. queue_try_lock.sql is the same for many
-- queues at once, without waiting. Binds: scope, queue.
SELECT queue, locked_by, running_job_id, lock_token, locked_until, blocked_since,
       paused_at IS NOT NULL AS paused, UTC_TIMESTAMP(6) AS now
FROM queuetopia_queues
WHERE scope = ? AND queue = ?
FOR UPDATE
