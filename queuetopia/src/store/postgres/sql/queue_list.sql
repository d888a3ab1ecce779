-- The queues of a scope with open jobs, a live lock or a pause: size, head,
-- lock, pause.
-- $1 scope, $2 pinned clock or NULL.
--
-- Sizes come from one read of the scope's open jobs, not a count per queue:
-- a prepared statement may run a plan made on statistics of an empty table,
-- and a count per queue planned on the (scope, id) index would read every
-- job of the scope for each queue. The head is a lookup per queue that only
-- the open-jobs index serves without a sort.
WITH sizes AS MATERIALIZED (
    SELECT c.queue, count(*) AS size
    FROM queuetopia_jobs c
    WHERE c.scope = $1 AND c.done_at IS NULL AND c.given_up_at IS NULL
    GROUP BY c.queue
)
SELECT
    q.queue,
    q.blocked_since,
    CASE WHEN q.locked_until > COALESCE($2::timestamptz, now()) THEN q.locked_by END AS locked_by,
    CASE WHEN q.locked_until > COALESCE($2::timestamptz, now()) THEN q.locked_until END AS locked_until,
    q.running_job_id,
    q.paused_at,
    q.paused_by,
    COALESCE(s.size, 0) AS size,
    h.id AS head_id
FROM queuetopia_queues q
LEFT JOIN sizes s ON s.queue = q.queue
LEFT JOIN LATERAL (
    SELECT c.id FROM queuetopia_jobs c
    WHERE c.scope = q.scope AND c.queue = q.queue
      AND c.done_at IS NULL AND c.given_up_at IS NULL
    ORDER BY c.scheduled_at, c.sequence
    LIMIT 1
) h ON true
WHERE q.scope = $1
ORDER BY q.queue
