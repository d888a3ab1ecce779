-- Counts the new attempt of a queue's head, run in the same call right
-- after queue_set.sql has locked the queue for it (a claim that runs the
-- head), sharing its parameters. Returns the job as written.
-- ?3 node, ?6 the head's id, ?8 now.
UPDATE queuetopia_jobs SET
    attempts = attempts + 1,
    attempted_at = ?8,
    attempted_by = ?3,
    updated_at = ?8
WHERE id = ?6
RETURNING *
