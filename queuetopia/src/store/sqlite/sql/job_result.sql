-- An attempt's result: written only while the queue's lock is still the one
-- the attempt was claimed under (else no row comes back). A running job is
-- neither done nor given up, so a success sets `done_at` and a failure may
-- set `given_up_at`.
-- ?1 scope, ?2 queue, ?3 now, ?4 node, ?5 job id, ?6 attempt, ?7 lock token,
-- ?8 succeeded, ?9 error, ?10 next attempt at, ?11 give the job up.
UPDATE queuetopia_jobs SET
    done_at = CASE WHEN ?8 THEN ?3 END,
    error = CASE WHEN ?8 THEN NULL ELSE ?9 END,
    next_attempt_at = CASE WHEN ?8 THEN NULL ELSE ?10 END,
    given_up_at = CASE WHEN NOT ?8 AND ?11 THEN ?3 END,
    updated_at = ?3
WHERE id = ?5 AND attempts = ?6
  AND EXISTS (
      SELECT 1 FROM queuetopia_queues
      WHERE scope = ?1 AND queue = ?2
        AND locked_by = ?4 AND running_job_id = ?5 AND lock_token = ?7
  )
RETURNING *
