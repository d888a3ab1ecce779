-- The queue row just upserted (a locking read: the latest version, whatever
-- the caller's isolation level). Binds: now, now, scope, queue.
SELECT
    next_sequence,
    last_enqueued_at,
    ready_at <= ? AND (locked_until IS NULL OR locked_until <= ?) AS ready
FROM queuetopia_queues
WHERE scope = ? AND queue = ?
FOR UPDATE
