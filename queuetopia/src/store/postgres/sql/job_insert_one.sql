-- Creates one job: see functions/insert_one.sql.
-- $1 scope, $2 queue, $3 action,
-- $4 params as JSON text, $5 scheduled at, $6 delay in ms, $7 timeout in ms,
-- $8 longest backoff in ms, $9 attempts, $10 exhaustion policy, $11 the
-- pinned clock (or NULL), $12 the notification channel (or NULL).
SELECT id, queue, sequence, scheduled_at, inserted_at, wake
FROM queuetopia_insert_one($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
