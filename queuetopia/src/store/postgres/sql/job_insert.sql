-- Creates jobs, many at once: see queuetopia_insert in
-- migrations/0005_lean_insert.up.sql. Returns a row per job: its id,
-- queue, sequence, scheduled_at and inserted_at, and whether to wake.
-- $1 scope, $2..$10 one array per column (queue, action, params as JSON
-- text, scheduled at, delay in ms, timeout in ms, longest backoff in ms,
-- attempts, exhaustion policy), $11 the pinned clock (or NULL), $12 the
-- notification channel (or NULL).
SELECT * FROM queuetopia_insert($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
