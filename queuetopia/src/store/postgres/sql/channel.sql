-- The notification channel of this placement: its schema (the explicit one,
-- else the connection's current schema, so that two applications on one
-- database never wake each other), then the prefix, as one identifier of at
-- most 63 bytes. $1 explicit schema or NULL, $2 '<prefix>wake'.
SELECT CASE WHEN octet_length(c) <= 63 THEN c ELSE 'queuetopia_wake_' || md5(c) END
FROM (SELECT COALESCE($1::text, current_schema()) || '.' || $2 AS c) named
