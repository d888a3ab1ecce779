-- Second half of a claim: for each queue locked by queue_lock.sql, decide
-- from its head job, then lock the queue for this node and count an attempt.
--
--   abandoned: the last attempt's lease ran out without a result: lock the
--              queue so the claimer records that failure;
--   run:       the head may run now: lock the queue, count the attempt;
--   waiting:   the head runs later: move ready_at to that time;
--   idle:      no open job, or the head is held: nothing to do until a write.
--
-- $1 scope, $2 queues, $3 pinned clock or NULL, $4 node, $5 lease margin (ms),
-- $6 lock token, $7 the longest lease (ms) when attempts renew theirs, or NULL.
WITH picked AS (
    SELECT q.queue, q.running_job_id, COALESCE($3::timestamptz, now()) AS now
    FROM queuetopia_queues q
    WHERE q.scope = $1 AND q.queue = ANY($2::text[])
),
decided AS (
    SELECT
        p.queue,
        p.now,
        COALESCE(r.id, h.id) AS job_id,
        CASE
            WHEN r.id IS NOT NULL THEN 'abandoned'
            WHEN h.id IS NULL OR h.attempts >= h.max_attempts THEN 'idle'
            WHEN h.scheduled_at > p.now OR h.next_attempt_at > p.now THEN 'waiting'
            ELSE 'run'
        END AS decision,
        GREATEST(h.scheduled_at, h.next_attempt_at) AS head_ready_at,
        p.now + LEAST(COALESCE(r.timeout_ms, h.timeout_ms) + $5, $7::bigint)
            * interval '1 millisecond' AS lease_until
    FROM picked p
    -- A lookup by primary key (LIMIT keeps it one): as a plain join, a
    -- planner with stale statistics may scan every open job instead.
    LEFT JOIN LATERAL (
        SELECT r.id, r.timeout_ms
        FROM queuetopia_jobs r
        WHERE r.id = p.running_job_id AND r.done_at IS NULL AND r.given_up_at IS NULL
        LIMIT 1
    ) r ON true
    LEFT JOIN LATERAL (
        SELECT j.id, j.attempts, j.max_attempts, j.scheduled_at, j.next_attempt_at, j.timeout_ms
        FROM queuetopia_jobs j
        WHERE j.scope = $1 AND j.queue = p.queue
          AND j.done_at IS NULL AND j.given_up_at IS NULL
        ORDER BY j.scheduled_at, j.sequence
        LIMIT 1
    ) h ON true
),
queue_update AS (
    UPDATE queuetopia_queues q SET
        locked_by = CASE WHEN d.decision IN ('run', 'abandoned') THEN $4 END,
        locked_until = CASE WHEN d.decision IN ('run', 'abandoned') THEN d.lease_until END,
        lock_token = CASE WHEN d.decision IN ('run', 'abandoned') THEN $6::bigint END,
        running_job_id = CASE WHEN d.decision IN ('run', 'abandoned') THEN d.job_id END,
        ready_at = CASE d.decision
            WHEN 'run' THEN d.lease_until
            WHEN 'abandoned' THEN d.lease_until
            WHEN 'waiting' THEN d.head_ready_at
        END
    FROM decided d
    WHERE q.scope = $1 AND q.queue = d.queue
),
job_update AS (
    UPDATE queuetopia_jobs j SET
        attempts = j.attempts + 1,
        attempted_at = d.now,
        attempted_by = $4,
        updated_at = d.now
    FROM decided d
    WHERE j.id = d.job_id AND d.decision = 'run'
    RETURNING j.*
)
SELECT u.*, false AS abandoned FROM job_update u
UNION ALL
SELECT j.*, true AS abandoned
FROM queuetopia_jobs j
JOIN decided d ON j.id = d.job_id AND d.decision = 'abandoned'
