-- An attempt succeeded. $1 job id, $2 attempt, $3 pinned clock or NULL.
UPDATE queuetopia_jobs SET
    done_at = COALESCE($3::timestamptz, now()),
    error = NULL,
    next_attempt_at = NULL,
    updated_at = COALESCE($3::timestamptz, now())
WHERE id = $1 AND attempts = $2
RETURNING *
