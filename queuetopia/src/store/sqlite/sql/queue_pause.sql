-- An operator pauses a queue: no attempt of it starts until it is resumed
-- (the claim and the hand-on read only queues not paused). A queue without
-- a row yet gets one, paused, for its jobs to come. Writes nothing when the
-- queue is already paused. ?1 scope, ?2 queue, ?3 now, ?4 actor.
INSERT INTO queuetopia_queues AS q (scope, queue, next_sequence, paused_at, paused_by)
VALUES (?1, ?2, 0, ?3, ?4)
ON CONFLICT (scope, queue) DO UPDATE SET
    paused_at = excluded.paused_at,
    paused_by = excluded.paused_by
WHERE q.paused_at IS NULL
