-- Before a result is written without waiting: lock the queue's row unless
-- another transaction holds it (a creation in a caller's open transaction,
-- say). Binds: scope, queue.
SELECT 1
FROM queuetopia_queues
WHERE scope = ? AND queue = ?
FOR UPDATE SKIP LOCKED
