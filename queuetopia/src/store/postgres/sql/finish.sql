-- Writes a batch of results, and claims up to $13 next queues: see
-- functions/finish_batch.sql.
-- $1 scope, $2 node, $3 pinned clock or NULL; one array per result field:
-- $4 queue, $5 job id, $6 lock token, $7 attempt, $8 succeeded, $9 error,
-- $10 backoff (ms), $11 give up, $12 keep the lock; then $13 queues to claim
-- next, $14 lease margin (ms), $15 the next locks' token, $16 the longest
-- lease (ms) or NULL, $17 wait for queue rows other transactions hold.
SELECT * FROM queuetopia_finish_batch(
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17
)
