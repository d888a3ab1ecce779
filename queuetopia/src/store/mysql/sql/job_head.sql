-- The head of a queue: its first job, by (scheduled_at, sequence), that is
-- neither done nor given up. Binds: scope, queue.
SELECT * FROM queuetopia_jobs
WHERE scope = ? AND queue = ? AND done_at IS NULL AND given_up_at IS NULL
ORDER BY scheduled_at, sequence
LIMIT 1
