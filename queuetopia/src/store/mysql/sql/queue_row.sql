-- A queue's lock and blocked time, locked for the rest of the transaction.
-- Binds: scope, queue.
SELECT locked_until, blocked_since
FROM queuetopia_queues
WHERE scope = ? AND queue = ?
FOR UPDATE
