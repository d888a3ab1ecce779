-- An attempt failed. $1 job id, $2 attempt, $3 pinned clock or NULL,
-- $4 error, $5 backoff (ms), $6 give the job up.
UPDATE queuetopia_jobs SET
    error = $4,
    next_attempt_at = COALESCE($3::timestamptz, now()) + $5 * interval '1 millisecond',
    given_up_at = CASE WHEN $6 THEN COALESCE($3::timestamptz, now()) END,
    updated_at = COALESCE($3::timestamptz, now())
WHERE id = $1 AND attempts = $2
RETURNING *
