-- Recomputes a queue's row from its jobs, after a write changed its head.
-- Runs while the transaction holds the queue row's lock. The same rule in
-- Rust is `ready_at` in src/store/queue_rule.rs.
--
-- $1 scope, $2 queue, $3 pinned clock or NULL,
-- $4 release the lock (else keep it until its lease runs out),
-- $5 clear the running attempt (its result is written).
CREATE OR REPLACE FUNCTION queuetopia_refresh(text, text, timestamptz, boolean, boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_bitmapscan = off
-- The tables the migration's search path found, whatever the caller's
-- (see check_job.sql).
SET search_path FROM CURRENT
AS $fn$
BEGIN
WITH head AS (
    SELECT j.attempts, j.max_attempts, j.scheduled_at, j.next_attempt_at, j.error
    FROM queuetopia_jobs j
    WHERE j.scope = $1 AND j.queue = $2 AND j.done_at IS NULL AND j.given_up_at IS NULL
    ORDER BY j.scheduled_at, j.sequence
    LIMIT 1
)
UPDATE queuetopia_queues q SET
    running_job_id = CASE WHEN $5 THEN NULL ELSE q.running_job_id END,
    locked_by = CASE WHEN $4 THEN NULL ELSE q.locked_by END,
    locked_until = CASE WHEN $4 THEN NULL ELSE q.locked_until END,
    lock_token = CASE WHEN $4 THEN NULL ELSE q.lock_token END,
    ready_at = (
        SELECT CASE WHEN h.attempts >= h.max_attempts THEN NULL
               -- Not before now: a queue whose job just ended goes behind the
               -- queues already waiting (round robin), however old its head.
               ELSE GREATEST(h.scheduled_at, h.next_attempt_at,
                             CASE WHEN NOT $4 THEN q.locked_until END,
                             COALESCE($3::timestamptz, now()))
               END
        FROM head h
    ),
    blocked_since = CASE
        WHEN (SELECT h.error IS NOT NULL FROM head h)
        THEN COALESCE(q.blocked_since, COALESCE($3::timestamptz, now()))
    END
WHERE q.scope = $1 AND q.queue = $2;
END
$fn$;
