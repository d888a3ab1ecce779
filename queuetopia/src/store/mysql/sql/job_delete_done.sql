-- Retention: deletes up to a limit of done jobs done before a time. Jobs
-- that are not done are never deleted here. Binds: scope, cutoff, limit.
DELETE FROM queuetopia_jobs
WHERE scope = ? AND done_at IS NOT NULL AND done_at < ?
ORDER BY done_at
LIMIT ?
