-- An operator gives up a job so that its queue moves on.
-- $1 scope, $2 id, $3 pinned clock or NULL.
UPDATE queuetopia_jobs SET
    given_up_at = COALESCE($3::timestamptz, now()),
    error = COALESCE(error, 'skipped by an operator'),
    updated_at = COALESCE($3::timestamptz, now())
WHERE scope = $1 AND id = $2 AND done_at IS NULL AND given_up_at IS NULL
RETURNING *
