-- Creates or updates a queue's row before jobs are added to it (a batch
-- repeats the row of binds, one per queue, in name order): hands out
-- sequence numbers, keeps "now" monotonic per queue (last_enqueued_at) for
-- jobs without a schedule, and moves ready_at no later than before and never
-- before a live lease. (Assignments run left to right; none reads a column
-- set before it.) The row stays locked until the transaction ends.
-- Binds: scope, queue, jobs added, now if some job has no schedule (else
-- NULL), the earliest time one of the new jobs may run.
INSERT INTO queuetopia_queues (scope, queue, next_sequence, last_enqueued_at, ready_at)
VALUES (?, ?, ?, ?, ?)
ON DUPLICATE KEY UPDATE
    next_sequence = next_sequence + VALUES(next_sequence),
    last_enqueued_at = CASE
        WHEN VALUES(last_enqueued_at) IS NULL THEN last_enqueued_at
        ELSE GREATEST(COALESCE(last_enqueued_at, VALUES(last_enqueued_at)), VALUES(last_enqueued_at))
    END,
    ready_at = GREATEST(
        LEAST(COALESCE(ready_at, VALUES(ready_at)), VALUES(ready_at)),
        COALESCE(locked_until, LEAST(COALESCE(ready_at, VALUES(ready_at)), VALUES(ready_at)))
    )
