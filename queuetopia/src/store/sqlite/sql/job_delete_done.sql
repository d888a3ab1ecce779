-- Retention: deletes up to ?3 done jobs done before ?2. Jobs that are not
-- done are never deleted here. ?1 scope.
DELETE FROM queuetopia_jobs
WHERE id IN (
    SELECT id FROM queuetopia_jobs
    WHERE scope = ?1 AND done_at IS NOT NULL AND done_at < ?2
    ORDER BY done_at
    LIMIT ?3
)
