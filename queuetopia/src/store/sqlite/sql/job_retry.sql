-- An operator retries a job that failed, is held or was given up: it may run
-- now, with one more attempt if it had used them all. ?1 scope, ?2 id, ?3 now.
UPDATE queuetopia_jobs SET
    given_up_at = NULL,
    next_attempt_at = NULL,
    max_attempts = max(max_attempts, attempts + 1),
    updated_at = ?3
WHERE scope = ?1 AND id = ?2 AND done_at IS NULL
RETURNING *
