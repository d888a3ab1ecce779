-- Recomputes a queue's row from its jobs, after a write changed its head.
-- ?1 scope, ?2 queue, ?3 now,
-- ?4 release the lock (else keep it until its lease runs out),
-- ?5 clear the running attempt (its result is written).
WITH head AS (
    SELECT attempts, max_attempts, scheduled_at, next_attempt_at, error
    FROM queuetopia_jobs
    WHERE scope = ?1 AND queue = ?2 AND done_at IS NULL AND given_up_at IS NULL
    ORDER BY scheduled_at, sequence
    LIMIT 1
)
UPDATE queuetopia_queues SET
    running_job_id = CASE WHEN ?5 THEN NULL ELSE running_job_id END,
    locked_by = CASE WHEN ?4 THEN NULL ELSE locked_by END,
    locked_until = CASE WHEN ?4 THEN NULL ELSE locked_until END,
    lock_token = CASE WHEN ?4 THEN NULL ELSE lock_token END,
    ready_at = (
        SELECT CASE WHEN h.attempts >= h.max_attempts THEN NULL
               -- Not before now: a queue whose job just ended goes behind the
               -- queues already waiting (round robin), however old its head.
               ELSE max(
                   h.scheduled_at,
                   COALESCE(h.next_attempt_at, h.scheduled_at),
                   CASE WHEN ?4 THEN h.scheduled_at
                        ELSE COALESCE(queuetopia_queues.locked_until, h.scheduled_at) END,
                   ?3
               )
               END
        FROM head h
    ),
    blocked_since = CASE
        WHEN (SELECT h.error IS NOT NULL FROM head h) THEN COALESCE(blocked_since, ?3)
    END
WHERE scope = ?1 AND queue = ?2
