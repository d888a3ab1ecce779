-- An operator pauses a queue: no attempt of it starts until it is resumed
-- (the claim and the hand-on read only queues not paused; both hold the
-- queue's row, so a claim under way ends before this writes). A queue
-- without a row yet gets one, paused, for its jobs to come. Writes nothing
-- when the queue is already paused.
-- $1 scope, $2 queue, $3 pinned clock or NULL, $4 actor.
INSERT INTO queuetopia_queues AS q (scope, queue, next_sequence, paused_at, paused_by)
VALUES ($1, $2, 0, COALESCE($3::timestamptz, now()), $4)
ON CONFLICT (scope, queue) DO UPDATE SET
    paused_at = EXCLUDED.paused_at,
    paused_by = EXCLUDED.paused_by
WHERE q.paused_at IS NULL
