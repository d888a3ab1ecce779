-- Counts a new attempt of a claimed job. ?1 id, ?2 now, ?3 node.
UPDATE queuetopia_jobs SET
    attempts = attempts + 1,
    attempted_at = ?2,
    attempted_by = ?3,
    updated_at = ?2
WHERE id = ?1
RETURNING *
