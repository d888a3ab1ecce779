-- The queue rows just upserted (a locking read: the latest version,
-- whatever the caller's isolation level; a batch repeats the queue's bind,
-- one per queue); and whether a multi-row insert gets
-- consecutive ids (InnoDB's "traditional" or "consecutive" lock mode, a
-- step of one), so that a batch's ids follow from the first.
-- Binds: now, now, scope, queues.
SELECT
    queue,
    next_sequence,
    last_enqueued_at,
    ready_at <= ? AND (locked_until IS NULL OR locked_until <= ?) AND paused_at IS NULL AS ready,
    (@@innodb_autoinc_lock_mode < 2 AND @@auto_increment_increment = 1) AS consecutive_ids
FROM queuetopia_queues
WHERE scope = ? AND queue IN (?)
FOR UPDATE
