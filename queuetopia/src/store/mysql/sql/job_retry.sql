-- An operator retries a job that failed, is held or was given up: it may run
-- now, with one more attempt if it had used them all. Binds: now, scope, id.
UPDATE queuetopia_jobs SET
    given_up_at = NULL,
    next_attempt_at = NULL,
    max_attempts = GREATEST(max_attempts, attempts + 1),
    updated_at = ?
WHERE scope = ? AND id = ? AND done_at IS NULL
