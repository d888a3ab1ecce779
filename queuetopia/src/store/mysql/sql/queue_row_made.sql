-- Makes a queue's row if it has none yet (no job so far), so that a pause
-- holds the jobs to come. Binds: scope, queue.
INSERT INTO queuetopia_queues (scope, queue, next_sequence)
VALUES (?, ?, 0)
ON DUPLICATE KEY UPDATE next_sequence = next_sequence
