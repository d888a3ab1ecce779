-- An attempt succeeded. ?1 job id, ?2 attempt, ?3 now.
UPDATE queuetopia_jobs SET
    done_at = ?3,
    error = NULL,
    next_attempt_at = NULL,
    updated_at = ?3
WHERE id = ?1 AND attempts = ?2
RETURNING *
