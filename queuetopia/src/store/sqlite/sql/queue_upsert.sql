-- Creates or updates the rows of the queues jobs are added to (a batch
-- repeats the row of binds, one per queue, in name order): hands out
-- sequence numbers and returns the last one; keeps "now" monotonic per
-- queue (last_enqueued_at) for jobs without a schedule; moves ready_at no
-- later than before and never before a live lease.
-- Binds per row: scope, queue, jobs added, now if some job has no schedule
-- (else NULL), the earliest time one of the new jobs may run; then now,
-- now.
INSERT INTO queuetopia_queues AS q (scope, queue, next_sequence, last_enqueued_at, ready_at)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (scope, queue) DO UPDATE SET
    next_sequence = q.next_sequence + excluded.next_sequence,
    last_enqueued_at = CASE
        WHEN excluded.last_enqueued_at IS NULL THEN q.last_enqueued_at
        ELSE max(COALESCE(q.last_enqueued_at, excluded.last_enqueued_at), excluded.last_enqueued_at)
    END,
    ready_at = max(
        min(COALESCE(q.ready_at, excluded.ready_at), excluded.ready_at),
        COALESCE(q.locked_until, min(COALESCE(q.ready_at, excluded.ready_at), excluded.ready_at))
    )
RETURNING queue, next_sequence, last_enqueued_at,
    -- whether a scheduler may claim the queue now: if so, wake it
    ready_at <= ? AND (locked_until IS NULL OR locked_until <= ?) AND paused_at IS NULL AS ready
