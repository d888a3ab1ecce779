-- Writes what a claim decided for a queue: its lock (or none) and ready_at.
-- Binds: node, lease end, token, running job, ready_at, scope, queue.
UPDATE queuetopia_queues SET
    locked_by = ?,
    locked_until = ?,
    lock_token = ?,
    running_job_id = ?,
    ready_at = ?
WHERE scope = ? AND queue = ?
