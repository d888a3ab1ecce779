-- When an idle scheduler of the scope should look again: the earliest future
-- ready_at (a scheduled job, a backoff, a lease running out).
SELECT
    COALESCE($2::timestamptz, now()) AS now,
    (SELECT min(ready_at) FROM queuetopia_queues
     WHERE scope = $1 AND ready_at > COALESCE($2::timestamptz, now())) AS next_at
