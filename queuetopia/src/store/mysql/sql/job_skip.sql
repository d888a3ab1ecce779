-- An operator gives up a job so that its queue moves on. Binds: now, now,
-- scope, id.
UPDATE queuetopia_jobs SET
    given_up_at = ?,
    error = COALESCE(error, 'skipped by an operator'),
    updated_at = ?
WHERE scope = ? AND id = ? AND done_at IS NULL AND given_up_at IS NULL
