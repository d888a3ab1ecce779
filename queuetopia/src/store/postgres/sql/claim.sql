-- Claims up to $3 ready queues: see functions/claim.sql.
-- $1 scope, $2 pinned clock or NULL,
-- $3 limit, $4 node, $5 lease margin (ms), $6 lock token, $7 the longest
-- lease (ms) when attempts renew theirs, or NULL.
SELECT * FROM queuetopia_claim($1, $2, $3, $4, $5, $6, $7)
