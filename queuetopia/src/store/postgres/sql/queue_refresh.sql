-- Recomputes a queue's row from its jobs: see functions/refresh.sql.
-- $1 scope, $2 queue, $3 pinned clock or
-- NULL, $4 release the lock, $5 clear the running attempt.
SELECT queuetopia_refresh($1, $2, $3, $4, $5)
