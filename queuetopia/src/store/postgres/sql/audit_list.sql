-- A page of a scope's audit, newest first. $1 scope, $2 job id or NULL,
-- $3 cursor (entries older than this id) or NULL, $4 limit.
SELECT * FROM queuetopia_audit
WHERE scope = $1
  AND ($2::bigint IS NULL OR job_id = $2)
  AND ($3::bigint IS NULL OR id < $3)
ORDER BY id DESC
LIMIT $4
