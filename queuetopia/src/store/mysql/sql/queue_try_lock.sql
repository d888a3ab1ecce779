-- Before a result is written without waiting: lock the queue's row unless
-- another transaction holds it (a creation in a caller's open transaction,
-- say: then no row), and read its lock, which must still be the one the
-- attempt was claimed under. Binds: scope, queue.
SELECT locked_by, running_job_id, lock_token
FROM queuetopia_queues
WHERE scope = ? AND queue = ?
FOR UPDATE SKIP LOCKED
