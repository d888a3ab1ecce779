-- One job, and whether an attempt of it is running now. Binds: scope, id.
SELECT j.*, EXISTS (
    SELECT 1 FROM queuetopia_queues q
    WHERE q.scope = j.scope AND q.queue = j.queue AND q.running_job_id = j.id
) AS running
FROM queuetopia_jobs j
WHERE j.scope = ? AND j.id = ?
