-- Before a result is written without waiting: lock the queue's row unless
-- another transaction holds it (a creation in a caller's open transaction,
-- say: then no row), and tell whether its lock is still the one this
-- attempt was claimed under; with what the refresh after the write needs
-- of the row, and the database's clock. lock_check.sql is the same,
-- waiting. Binds: node, job id, lock token, scope, queue.
SELECT (locked_by <=> ? AND running_job_id <=> ? AND lock_token <=> ?) AS owned,
       locked_until, blocked_since, UTC_TIMESTAMP(6) AS now
FROM queuetopia_queues
WHERE scope = ? AND queue = ?
FOR UPDATE SKIP LOCKED
