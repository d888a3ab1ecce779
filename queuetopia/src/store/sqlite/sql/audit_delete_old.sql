-- Audit retention: deletes up to ?3 entries written before ?2. ?1 scope.
DELETE FROM queuetopia_audit
WHERE id IN (
    SELECT id FROM queuetopia_audit
    WHERE scope = ?1 AND at < ?2
    ORDER BY at
    LIMIT ?3
)
