-- Writes what a claim decided for a queue: its lock (or none) and ready_at.
-- ?1 scope, ?2 queue, ?3 node, ?4 lease end, ?5 token, ?6 running job, ?7 ready_at.
UPDATE queuetopia_queues SET
    locked_by = ?3,
    locked_until = ?4,
    lock_token = ?5,
    running_job_id = ?6,
    ready_at = ?7
WHERE scope = ?1 AND queue = ?2
