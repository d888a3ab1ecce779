-- Counts a new attempt of a claimed job. Binds: now, node, now, id.
UPDATE queuetopia_jobs SET
    attempts = attempts + 1,
    attempted_at = ?,
    attempted_by = ?,
    updated_at = ?
WHERE id = ?
