-- A queue's head after its result was written, read with job_written.sql.
-- With it, `others` (asked for when the queue's lock may go straight to its
-- head) tells whether another queue of the scope waits for its turn: then
-- the lock is released and the claim takes the queues in turn.
-- Binds: ask, scope, queue, now, now; scope, queue.
(SELECT 'head' AS role, h.*, (? AND EXISTS (
            SELECT 1 FROM queuetopia_queues q
            WHERE q.scope = ? AND q.queue <> ?
              AND q.ready_at <= ?
              AND (q.locked_until IS NULL OR q.locked_until <= ?)
        )) AS others
 FROM queuetopia_jobs h
 WHERE h.scope = ? AND h.queue = ? AND h.done_at IS NULL AND h.given_up_at IS NULL
 ORDER BY h.scheduled_at, h.sequence
 LIMIT 1)
