-- Deletes up to ?3 rows of queues that have nothing left: no open job, no
-- lock, nothing scheduled, no pause (which holds the queue's future jobs).
-- ?1 scope, ?2 now.
DELETE FROM queuetopia_queues
WHERE scope = ?1
  AND queue IN (
    SELECT q.queue FROM queuetopia_queues q
    WHERE q.scope = ?1
      AND q.ready_at IS NULL
      AND q.running_job_id IS NULL
      AND q.paused_at IS NULL
      AND (q.locked_until IS NULL OR q.locked_until <= ?2)
      AND NOT EXISTS (
          SELECT 1 FROM queuetopia_jobs j
          WHERE j.scope = q.scope AND j.queue = q.queue
            AND j.done_at IS NULL AND j.given_up_at IS NULL
      )
    LIMIT ?3
  )
