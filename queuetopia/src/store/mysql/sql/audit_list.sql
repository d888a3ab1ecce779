-- A page of a scope's audit, newest first. Binds: scope, job id or NULL
-- (twice), cursor (entries older than this id) or NULL (twice), limit.
SELECT * FROM queuetopia_audit
WHERE scope = ?
  AND (? IS NULL OR job_id = ?)
  AND (? IS NULL OR id < ?)
ORDER BY id DESC
LIMIT ?
