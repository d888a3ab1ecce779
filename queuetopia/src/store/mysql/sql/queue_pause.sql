-- An operator pauses a queue: no attempt of it starts until it is resumed
-- (the claim and the hand-on read only queues not paused; both hold the
-- queue's row, so a claim under way ends before this writes). The row
-- exists (queue_row_made.sql). Writes nothing when the queue is already
-- paused. Binds: now, actor, scope, queue.
UPDATE queuetopia_queues SET paused_at = ?, paused_by = ?
WHERE scope = ? AND queue = ? AND paused_at IS NULL
