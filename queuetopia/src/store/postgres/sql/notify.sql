-- Wakes every node of the scope $2 (listening on channel $1) when the
-- transaction commits.
SELECT pg_notify($1, $2)
