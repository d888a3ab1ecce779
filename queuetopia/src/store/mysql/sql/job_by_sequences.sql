-- Jobs just created in a queue, by their sequence numbers; `id` tells them
-- from older jobs of a pruned and recreated queue that had the same numbers.
-- Binds: scope, queue, first, last, lowest id created.
SELECT * FROM queuetopia_jobs
WHERE scope = ? AND queue = ? AND sequence BETWEEN ? AND ? AND id >= ?
ORDER BY sequence
