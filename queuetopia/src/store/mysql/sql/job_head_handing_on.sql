-- job_head_after.sql for a single result whose queue's lock may go
-- straight to its head: with it, `others` tells whether another queue of
-- the scope waits for its turn (then the lock is released and the claim
-- takes the queues in turn). Apart, because MariaDB optimizes the probe
-- anew for every head read, asked for or not (about a tenth of a batch's
-- time). Binds: scope, queue, now, now; scope, queue.
(SELECT 'head' AS role, h.*, EXISTS (
        SELECT 1 FROM queuetopia_queues q
        WHERE q.scope = ? AND q.queue <> ?
          AND q.ready_at <= ?
          AND (q.locked_until IS NULL OR q.locked_until <= ?)
          AND q.paused_at IS NULL
    ) AS others
 FROM queuetopia_jobs h
 WHERE h.scope = ? AND h.queue = ?
   AND h.done_at IS NULL AND h.given_up_at IS NULL
 ORDER BY h.scheduled_at, h.sequence
 LIMIT 1)
