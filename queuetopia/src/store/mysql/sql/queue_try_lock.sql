-- Before a result is written without waiting: lock the queue's row unless
-- another transaction holds it (a creation in a caller's open transaction,
-- say: then no row), and tell whether its lock is still the one this
-- attempt was claimed under. lock_check.sql is the same, waiting.
-- Binds: node, job id, lock token, scope, queue.
SELECT (locked_by <=> ? AND running_job_id <=> ? AND lock_token <=> ?) AS owned
FROM queuetopia_queues
WHERE scope = ? AND queue = ?
FOR UPDATE SKIP LOCKED
