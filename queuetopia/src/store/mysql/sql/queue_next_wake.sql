-- When an idle scheduler of the scope should look again: the earliest
-- ready_at after now (a scheduled job, a backoff, a lease running out).
-- Runs in the claim's transaction, with its "now". Binds: scope, now.
SELECT MIN(ready_at) FROM queuetopia_queues WHERE scope = ? AND ready_at > ?
