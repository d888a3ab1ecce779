-- When an idle scheduler of the scope should look again: the earliest
-- ready_at after now (a scheduled job, a backoff, a lease running out) of
-- the queues not paused.
-- Runs in the claim's transaction, with its "now": every queue ready before
-- then was just looked at (or is held by another writer, who wakes us).
SELECT min(ready_at) FROM queuetopia_queues
WHERE scope = ?1 AND ready_at > ?2 AND paused_at IS NULL
