-- After a result's write, under its queue's lock: the job as written (role
-- 'written'), then the queue's head (role 'head'), if it has one. With the
-- head, `others` (asked for when the queue's lock may go straight to its
-- head) tells whether another queue of the scope waits for its turn: then
-- the lock is released and the claim takes the queues in turn.
-- Binds: job id; ask, scope, queue, now, now; scope, queue.
SELECT 'written' AS role, j.*, 0 AS others
FROM queuetopia_jobs j
WHERE j.id = ?
UNION ALL
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
