-- Writes an attempt's result, and claims the slot's next queue when $13 > 0:
-- see queuetopia_finish in migrations/0002_functions.up.sql.
-- $1 scope, $2 queue, $3 node, $4 job id, $5 lock token, $6 attempt,
-- $7 pinned clock or NULL, $8 succeeded, $9 error, $10 backoff (ms),
-- $11 give up, $12 keep the lock, $13 queues to claim next, $14 lease margin
-- (ms), $15 the next lock's token, $16 the longest lease (ms) or NULL.
SELECT * FROM queuetopia_finish(
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16
)
