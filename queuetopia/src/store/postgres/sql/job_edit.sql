-- An operator replaces the params of a failed or held job (one that ran, is
-- neither done nor given up; the caller holds its queue and checked that no
-- attempt of it runs). $1 scope, $2 id, $3 pinned clock or NULL, $4 params
-- as JSON text.
UPDATE queuetopia_jobs SET
    params = $4::jsonb,
    updated_at = COALESCE($3::timestamptz, now())
WHERE scope = $1 AND id = $2 AND attempts > 0 AND done_at IS NULL AND given_up_at IS NULL
RETURNING *
