-- A job that has no result yet: the attempt that a lapsed lock was running.
SELECT * FROM queuetopia_jobs
WHERE id = ? AND done_at IS NULL AND given_up_at IS NULL
