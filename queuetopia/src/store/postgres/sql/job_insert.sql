-- Creates jobs, many at once: see functions/insert.sql.
-- Reads back only what the server
-- decided for each job (the caller has the rest: decoding every column,
-- params included, would cost more than the creation), with
-- the queue that pairs it with the job asked for.
-- $1 scope, $2..$10 one array per column (queue, action, params as JSON
-- text, scheduled at, delay in ms, timeout in ms, longest backoff in ms,
-- attempts, exhaustion policy), $11 the pinned clock (or NULL), $12 the
-- notification channel (or NULL).
SELECT id, queue, sequence, scheduled_at, inserted_at, wake
FROM queuetopia_insert($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
