-- Retention: deletes up to $4 done jobs older than $3 ms. Jobs that are not
-- done are never deleted here. $1 scope, $2 pinned clock or NULL.
DELETE FROM queuetopia_jobs
WHERE id IN (
    SELECT id FROM queuetopia_jobs
    WHERE scope = $1
      AND done_at IS NOT NULL
      AND done_at < COALESCE($2::timestamptz, now()) - $3 * interval '1 millisecond'
    ORDER BY done_at
    LIMIT $4
)
