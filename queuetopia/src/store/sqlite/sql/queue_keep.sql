-- Hands a queue's lock, still held by the same node, to its next job.
-- ?1 scope, ?2 queue, ?3 lease end, ?4 token, ?5 the job, ?6 the job has
-- failed before (its queue is blocked), ?7 now.
UPDATE queuetopia_queues SET
    locked_until = ?3,
    lock_token = ?4,
    running_job_id = ?5,
    ready_at = ?3,
    blocked_since = CASE WHEN ?6 THEN COALESCE(blocked_since, ?7) END
WHERE scope = ?1 AND queue = ?2
