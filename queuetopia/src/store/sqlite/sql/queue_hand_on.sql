-- Hands a queue's lock, still held by this node, straight to the queue's
-- next job: what the refresh and a claim would decide when that job may run
-- now and no other queue of the scope waits for its turn, in two writes.
-- Runs in the same call right after job_result.sql, sharing its parameters,
-- and does nothing unless that statement wrote the result (`changes()` is
-- the row count of the statement before).
-- ?1 scope, ?2 queue, ?3 now, ?4 node; ?12 the next lock's token, ?13 the
-- lease margin (ms), ?14 the longest lease (ms) or NULL.

-- The head's attempt, when it may run now (its queue is not paused, it has
-- attempts left, its time has come, no backoff holds it) and no other queue
-- is waiting.
UPDATE queuetopia_jobs SET
    attempts = attempts + 1,
    attempted_at = ?3,
    attempted_by = ?4,
    updated_at = ?3
WHERE changes() = 1
  AND id = (
        SELECT id FROM queuetopia_jobs
        WHERE scope = ?1 AND queue = ?2 AND done_at IS NULL AND given_up_at IS NULL
        ORDER BY scheduled_at, sequence
        LIMIT 1
    )
  AND attempts < max_attempts
  AND NOT EXISTS (
        SELECT 1 FROM queuetopia_queues
        WHERE scope = ?1 AND queue = ?2 AND paused_at IS NOT NULL
    )
  AND scheduled_at <= ?3
  AND (next_attempt_at IS NULL OR next_attempt_at <= ?3)
  AND NOT EXISTS (
        SELECT 1 FROM queuetopia_queues
        WHERE scope = ?1 AND queue <> ?2
          AND ready_at <= ?3
          AND (locked_until IS NULL OR locked_until <= ?3)
          AND paused_at IS NULL
    )
RETURNING *;

-- The lock, leased for that attempt (times are microseconds). A head that
-- failed before keeps its queue shown as blocked.
UPDATE queuetopia_queues SET
    locked_until = h.until,
    lock_token = ?12,
    running_job_id = h.id,
    ready_at = h.until,
    blocked_since = CASE
        WHEN h.error IS NOT NULL THEN COALESCE(queuetopia_queues.blocked_since, ?3)
    END
FROM (
    SELECT id, error,
           ?3 + 1000 * min(timeout_ms + ?13, COALESCE(?14, timeout_ms + ?13)) AS until
    FROM queuetopia_jobs
    WHERE scope = ?1 AND queue = ?2 AND done_at IS NULL AND given_up_at IS NULL
    ORDER BY scheduled_at, sequence
    LIMIT 1
) AS h
WHERE changes() = 1 AND queuetopia_queues.scope = ?1 AND queuetopia_queues.queue = ?2
