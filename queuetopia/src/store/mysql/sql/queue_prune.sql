-- Deletes up to a limit of rows of queues that have nothing left: no open
-- job, no lock, nothing scheduled, no pause (which holds the queue's future
-- jobs). A creation racing with this either
-- commits first (the delete then re-reads the row, whose ready_at is set)
-- or comes after (and creates the row anew). Binds: scope, now, limit.
DELETE FROM queuetopia_queues
WHERE scope = ?
  AND ready_at IS NULL
  AND running_job_id IS NULL
  AND paused_at IS NULL
  AND (locked_until IS NULL OR locked_until <= ?)
  AND NOT EXISTS (
      SELECT 1 FROM queuetopia_jobs j
      WHERE j.scope = queuetopia_queues.scope AND j.queue = queuetopia_queues.queue
        AND j.done_at IS NULL AND j.given_up_at IS NULL
  )
LIMIT ?
