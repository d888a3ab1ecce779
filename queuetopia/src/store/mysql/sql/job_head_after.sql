-- A queue's head after its result was written, read with job_written.sql
-- (`others` is for job_head_handing_on.sql's sake). Binds: scope, queue.
(SELECT 'head' AS role, h.*, 0 AS others
 FROM queuetopia_jobs h
 WHERE h.scope = ? AND h.queue = ?
   AND h.done_at IS NULL AND h.given_up_at IS NULL
 ORDER BY h.scheduled_at, h.sequence
 LIMIT 1)
