-- An attempt failed. ?1 job id, ?2 attempt, ?3 now, ?4 error,
-- ?5 next attempt at, ?6 give the job up.
UPDATE queuetopia_jobs SET
    error = ?4,
    next_attempt_at = ?5,
    given_up_at = CASE WHEN ?6 THEN ?3 END,
    updated_at = ?3
WHERE id = ?1 AND attempts = ?2
RETURNING *
