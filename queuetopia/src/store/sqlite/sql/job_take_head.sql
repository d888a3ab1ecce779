-- Counts an attempt of a queue's head if it may run now (it has attempts
-- left, its time has come, no backoff holds it); returns it, or no row.
-- ?1 scope, ?2 queue, ?3 now, ?4 node.
UPDATE queuetopia_jobs SET
    attempts = attempts + 1,
    attempted_at = ?3,
    attempted_by = ?4,
    updated_at = ?3
WHERE id = (
        SELECT id FROM queuetopia_jobs
        WHERE scope = ?1 AND queue = ?2 AND done_at IS NULL AND given_up_at IS NULL
        ORDER BY scheduled_at, sequence
        LIMIT 1
    )
  AND attempts < max_attempts
  AND scheduled_at <= ?3
  AND (next_attempt_at IS NULL OR next_attempt_at <= ?3)
RETURNING *
