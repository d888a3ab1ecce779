-- Before results are written without waiting: lock their queues' rows in
-- one statement, skipping those another transaction holds (a creation in a
-- caller's open transaction, say: then no row), with what tells whether
-- each lock is still the one its attempt was claimed under, what the
-- refresh after the write needs, and the database's clock. A batch repeats
-- the queue's bind, one per queue (see `Repeated`). lock_check.sql is the
-- same for one queue, waiting. Binds: scope, queues.
SELECT queue, locked_by, running_job_id, lock_token, locked_until, blocked_since,
       paused_at IS NOT NULL AS paused, UTC_TIMESTAMP(6) AS now
FROM queuetopia_queues
WHERE scope = ? AND queue IN (?)
FOR UPDATE SKIP LOCKED
