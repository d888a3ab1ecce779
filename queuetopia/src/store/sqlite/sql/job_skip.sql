-- An operator gives up a job so that its queue moves on. ?1 scope, ?2 id, ?3 now.
UPDATE queuetopia_jobs SET
    given_up_at = ?3,
    error = COALESCE(error, 'skipped by an operator'),
    updated_at = ?3
WHERE scope = ?1 AND id = ?2 AND done_at IS NULL AND given_up_at IS NULL
RETURNING *
