-- An attempt failed. Binds: error, next attempt at, given up at (or NULL),
-- now, job id, attempt.
UPDATE queuetopia_jobs SET
    error = ?,
    next_attempt_at = ?,
    given_up_at = ?,
    updated_at = ?
WHERE id = ? AND attempts = ?
