-- An operator replaces the params of a failed or held job (one that ran, is
-- neither done nor given up; the caller holds its queue and checked that no
-- attempt of it runs). Binds: params as JSON, now, scope, id.
UPDATE queuetopia_jobs SET
    params = ?,
    updated_at = ?
WHERE scope = ? AND id = ? AND attempts > 0 AND done_at IS NULL AND given_up_at IS NULL
