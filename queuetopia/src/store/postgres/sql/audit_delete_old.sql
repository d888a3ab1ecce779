-- Audit retention: deletes up to $4 entries older than $3 ms. $1 scope,
-- $2 pinned clock or NULL.
DELETE FROM queuetopia_audit
WHERE id IN (
    SELECT id FROM queuetopia_audit
    WHERE scope = $1 AND at < COALESCE($2::timestamptz, now()) - $3 * interval '1 millisecond'
    ORDER BY at
    LIMIT $4
)
