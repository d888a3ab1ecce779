-- A queue's lock, blocked time and pause, locked for the rest of the
-- transaction. Binds: scope, queue.
SELECT locked_until, blocked_since, paused_at IS NOT NULL AS paused
FROM queuetopia_queues
WHERE scope = ? AND queue = ?
FOR UPDATE
