-- Deletes up to $3 rows of queues that have nothing left: no open job, no
-- lock, nothing scheduled, no pause (which holds the queue's future jobs). A creation racing with this either commits first
-- (its upsert sets ready_at, so the row no longer matches when this delete
-- re-checks it) or comes after (and creates the row anew).
-- $1 scope, $2 pinned clock or NULL.
DELETE FROM queuetopia_queues
WHERE scope = $1
  AND queue IN (
    SELECT q.queue FROM queuetopia_queues q
    -- The queue's head, if it has one: LIMIT keeps this a lookup per queue
    -- that only the open-jobs index serves without a sort. As NOT EXISTS,
    -- with statistics taken while the jobs table looked empty, it was
    -- planned as a scan of every job of the scope for each queue (a prune
    -- ran for minutes beside 200,000 done jobs and 10,000 queues).
    LEFT JOIN LATERAL (
        SELECT 1 AS open FROM queuetopia_jobs j
        WHERE j.scope = q.scope AND j.queue = q.queue
          AND j.done_at IS NULL AND j.given_up_at IS NULL
        ORDER BY j.scheduled_at, j.sequence
        LIMIT 1
    ) head ON true
    WHERE q.scope = $1
      AND q.ready_at IS NULL
      AND q.running_job_id IS NULL
      AND q.paused_at IS NULL
      AND (q.locked_until IS NULL OR q.locked_until <= COALESCE($2::timestamptz, now()))
      AND head.open IS NULL
    LIMIT $3
  )
  AND ready_at IS NULL
  AND running_job_id IS NULL
  AND paused_at IS NULL
