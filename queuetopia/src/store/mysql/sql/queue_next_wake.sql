-- When an idle scheduler of the scope should look again: the earliest
-- ready_at after now (a scheduled job, a backoff, a lease running out) of
-- the queues not paused.
-- Runs in the claim's transaction, with its "now". Binds: scope, now.
SELECT MIN(ready_at) FROM queuetopia_queues
WHERE scope = ? AND paused_at IS NULL AND ready_at > ?
