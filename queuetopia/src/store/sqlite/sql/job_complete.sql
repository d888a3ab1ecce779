-- An attempt succeeded: written only while the queue's lock is still the one
-- the attempt was claimed under (else no row comes back).
-- ?1 job id, ?2 attempt, ?3 now, ?4 scope, ?5 queue, ?6 node, ?7 lock token.
UPDATE queuetopia_jobs SET
    done_at = ?3,
    error = NULL,
    next_attempt_at = NULL,
    updated_at = ?3
WHERE id = ?1 AND attempts = ?2
  AND EXISTS (
      SELECT 1 FROM queuetopia_queues
      WHERE scope = ?4 AND queue = ?5
        AND locked_by = ?6 AND running_job_id = ?1 AND lock_token = ?7
  )
RETURNING *
