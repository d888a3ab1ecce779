-- An attempt failed: written only while the queue's lock is still the one
-- the attempt was claimed under (else no row comes back).
-- ?1 job id, ?2 attempt, ?3 now, ?4 error, ?5 next attempt at, ?6 give the
-- job up, ?7 scope, ?8 queue, ?9 node, ?10 lock token.
UPDATE queuetopia_jobs SET
    error = ?4,
    next_attempt_at = ?5,
    given_up_at = CASE WHEN ?6 THEN ?3 END,
    updated_at = ?3
WHERE id = ?1 AND attempts = ?2
  AND EXISTS (
      SELECT 1 FROM queuetopia_queues
      WHERE scope = ?7 AND queue = ?8
        AND locked_by = ?9 AND running_job_id = ?1 AND lock_token = ?10
  )
RETURNING *
