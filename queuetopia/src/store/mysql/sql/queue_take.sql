-- Locks a queue for its head job and counts that job's new attempt, in one
-- statement: a claim that runs the head, or a result's lock handed straight
-- to the next job. MySQL cannot return the rows it wrote: the caller builds
-- the job as written (`Job::attempted`), having read it under this lock.
-- Binds: node, lease end, token, job id, ready_at, set blocked_since,
-- blocked_since; now, node, now; scope, queue, job id.
UPDATE queuetopia_queues q, queuetopia_jobs j SET
    q.locked_by = ?,
    q.locked_until = ?,
    q.lock_token = ?,
    q.running_job_id = ?,
    q.ready_at = ?,
    q.blocked_since = CASE WHEN ? THEN ? ELSE q.blocked_since END,
    j.attempts = j.attempts + 1,
    j.attempted_at = ?,
    j.attempted_by = ?,
    j.updated_at = ?
WHERE q.scope = ? AND q.queue = ? AND j.id = ?
