-- Locks one queue's row for an operator's action; tells whether an attempt
-- of the job runs under the queue's lock now. Binds: job id, scope, queue.
SELECT running_job_id <=> ? AS running
FROM queuetopia_queues
WHERE scope = ? AND queue = ?
FOR UPDATE
