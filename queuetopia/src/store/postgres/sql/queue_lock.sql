-- First half of a claim: lock the rows of up to $3 queues whose time has come
-- and whose lock is free, skipping rows another transaction holds.
--
-- The second half (queue_claim.sql) runs as a separate statement, so that it
-- reads the jobs with a snapshot taken after these row locks were granted.
SELECT queue
FROM queuetopia_queues
WHERE scope = $1
  AND ready_at <= COALESCE($2::timestamptz, now())
  AND (locked_until IS NULL OR locked_until <= COALESCE($2::timestamptz, now()))
ORDER BY ready_at
LIMIT $3
FOR UPDATE SKIP LOCKED
