-- The head of a queue: its first job, by (scheduled_at, sequence), that is
-- neither done nor given up.
SELECT * FROM queuetopia_jobs
WHERE scope = ?1 AND queue = ?2 AND done_at IS NULL AND given_up_at IS NULL
ORDER BY scheduled_at, sequence
LIMIT 1
