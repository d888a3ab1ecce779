-- Locks one queue's row for an operator's action; tells whether an attempt of
-- the job $3 runs under the queue's lock now.
SELECT running_job_id IS NOT DISTINCT FROM $3 AS running
FROM queuetopia_queues
WHERE scope = $1 AND queue = $2
FOR UPDATE
