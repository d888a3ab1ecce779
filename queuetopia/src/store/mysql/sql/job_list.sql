-- A page of a scope's jobs. Every filter is optional (NULL: any); each is
-- bound twice (MySQL's placeholders are positional). Binds: scope, id x2,
-- queue x2, queue prefix x3, action x2, LIKE pattern x4, cursor, oldest
-- first, cursor x2, state x2, oldest first, limit.
SELECT * FROM (
    SELECT j.*, EXISTS (
        SELECT 1 FROM queuetopia_queues q
        WHERE q.scope = j.scope AND q.queue = j.queue AND q.running_job_id = j.id
    ) AS running
    FROM queuetopia_jobs j
    WHERE j.scope = ?
      AND (? IS NULL OR j.id = ?)
      AND (? IS NULL OR j.queue = ?)
      AND (? IS NULL OR LEFT(j.queue, LENGTH(?)) = ?)
      AND (? IS NULL OR j.action = ?)
      AND (? IS NULL OR LOWER(CONVERT(j.queue USING utf8mb4)) LIKE LOWER(?) ESCAPE '!'
           OR LOWER(CONVERT(j.action USING utf8mb4)) LIKE LOWER(?) ESCAPE '!'
           OR LOWER(j.params) LIKE LOWER(?) ESCAPE '!')
      AND (? IS NULL OR (CASE WHEN ? THEN j.id > ? ELSE j.id < ? END))
) l
WHERE ? IS NULL OR ? = CASE
    WHEN l.done_at IS NOT NULL THEN 'done'
    WHEN l.given_up_at IS NOT NULL THEN 'given_up'
    WHEN l.running THEN 'running'
    WHEN l.attempts >= l.max_attempts THEN 'held'
    WHEN l.attempts > 0 THEN 'retrying'
    ELSE 'pending'
END
ORDER BY CASE WHEN ? THEN l.id END ASC, l.id DESC
LIMIT ?
