-- Recomputes a queue's row from its jobs: see queuetopia_refresh in
-- migrations/0002_functions.up.sql. $1 scope, $2 queue, $3 pinned clock or
-- NULL, $4 release the lock, $5 clear the running attempt.
SELECT queuetopia_refresh($1, $2, $3, $4, $5)
