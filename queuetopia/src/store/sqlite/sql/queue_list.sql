-- The queues of a scope: size, head, lock, pause. ?1 scope, ?2 now.
SELECT
    q.queue,
    q.blocked_since,
    CASE WHEN q.locked_until > ?2 THEN q.locked_by END AS locked_by,
    CASE WHEN q.locked_until > ?2 THEN q.locked_until END AS locked_until,
    q.running_job_id,
    q.paused_at,
    q.paused_by,
    (SELECT count(*) FROM queuetopia_jobs c
     WHERE c.scope = q.scope AND c.queue = q.queue
       AND c.done_at IS NULL AND c.given_up_at IS NULL) AS size,
    (SELECT c.id FROM queuetopia_jobs c
     WHERE c.scope = q.scope AND c.queue = q.queue
       AND c.done_at IS NULL AND c.given_up_at IS NULL
     ORDER BY c.scheduled_at, c.sequence LIMIT 1) AS head_id
FROM queuetopia_queues q
WHERE q.scope = ?1
ORDER BY q.queue
