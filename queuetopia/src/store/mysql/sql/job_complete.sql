-- An attempt succeeded. Binds: now, now, job id, attempt.
UPDATE queuetopia_jobs SET
    done_at = ?,
    error = NULL,
    next_attempt_at = NULL,
    updated_at = ?
WHERE id = ? AND attempts = ?
