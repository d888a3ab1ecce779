-- A page of a scope's jobs. Every filter is optional (NULL: any).
-- ?1 scope, ?2 id, ?3 queue, ?4 action, ?5 state, ?6 LIKE pattern,
-- ?7 cursor (an id), ?8 oldest first, ?9 limit, ?10 queue prefix.
WITH listed AS (
    SELECT j.*, EXISTS (
        SELECT 1 FROM queuetopia_queues q
        WHERE q.scope = j.scope AND q.queue = j.queue AND q.running_job_id = j.id
    ) AS running
    FROM queuetopia_jobs j
    WHERE j.scope = ?1
      AND (?2 IS NULL OR j.id = ?2)
      AND (?3 IS NULL OR j.queue = ?3)
      AND (?10 IS NULL OR substr(j.queue, 1, length(?10)) = ?10)
      AND (?4 IS NULL OR j.action = ?4)
      AND (?6 IS NULL OR j.queue LIKE ?6 ESCAPE '\' OR j.action LIKE ?6 ESCAPE '\'
           OR j.params LIKE ?6 ESCAPE '\')
      AND (?7 IS NULL OR (CASE WHEN ?8 THEN j.id > ?7 ELSE j.id < ?7 END))
)
SELECT * FROM listed l
WHERE ?5 IS NULL OR ?5 = CASE
    WHEN l.done_at IS NOT NULL THEN 'done'
    WHEN l.given_up_at IS NOT NULL THEN 'given_up'
    WHEN l.running THEN 'running'
    WHEN l.attempts >= l.max_attempts THEN 'held'
    WHEN l.attempts > 0 THEN 'retrying'
    ELSE 'pending'
END
ORDER BY CASE WHEN ?8 THEN l.id END ASC, l.id DESC
LIMIT ?9
