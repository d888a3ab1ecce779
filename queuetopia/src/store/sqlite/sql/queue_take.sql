-- Locks a queue for its head job and counts that job's new attempt, in one
-- call: a claim that runs the head. Returns the job as written.
-- ?1 scope, ?2 queue, ?3 node, ?4 lease end, ?5 token, ?6 the head's id,
-- ?7 now.
UPDATE queuetopia_queues SET
    locked_by = ?3,
    locked_until = ?4,
    lock_token = ?5,
    running_job_id = ?6,
    ready_at = ?4
WHERE scope = ?1 AND queue = ?2;

UPDATE queuetopia_jobs SET
    attempts = attempts + 1,
    attempted_at = ?7,
    attempted_by = ?3,
    updated_at = ?7
WHERE id = ?6
RETURNING *
