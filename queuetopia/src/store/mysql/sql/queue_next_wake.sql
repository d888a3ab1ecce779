-- When an idle scheduler of the scope should look again. `skipped`: a
-- queue not paused is still ready now with its lock free, so this claim
-- skipped its row, which another transaction held (a creation, another
-- node's claim, the cleaner), and nobody may wake the scheduler for it:
-- look again shortly. `next`: the earliest ready_at after now of the queues
-- not paused (a scheduled job, a backoff, a lease running out). Runs in the
-- claim's transaction, with its "now". Binds: scope, now, now, scope, now.
SELECT
    EXISTS (
        SELECT 1 FROM queuetopia_queues
        WHERE scope = ? AND paused_at IS NULL AND ready_at <= ?
          AND (locked_until IS NULL OR locked_until <= ?)
    ) AS skipped,
    (SELECT MIN(ready_at) FROM queuetopia_queues
     WHERE scope = ? AND paused_at IS NULL AND ready_at > ?) AS next
