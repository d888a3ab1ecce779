-- Audit retention: deletes up to a limit of entries written before a time.
-- Binds: scope, cutoff, limit.
DELETE FROM queuetopia_audit
WHERE scope = ? AND at < ?
ORDER BY at
LIMIT ?
