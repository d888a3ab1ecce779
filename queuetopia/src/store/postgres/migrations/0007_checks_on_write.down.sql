-- The eight CHECK constraints again (every row kept to them meanwhile).
ALTER TABLE queuetopia_jobs
    ADD CONSTRAINT queuetopia_jobs_scope_check CHECK (octet_length(scope) BETWEEN 1 AND 255),
    ADD CONSTRAINT queuetopia_jobs_queue_check CHECK (octet_length(queue) BETWEEN 1 AND 255),
    ADD CONSTRAINT queuetopia_jobs_action_check CHECK (octet_length(action) BETWEEN 1 AND 255),
    ADD CONSTRAINT queuetopia_jobs_params_check CHECK (jsonb_typeof(params) = 'object'),
    ADD CONSTRAINT queuetopia_jobs_timeout_ms_check CHECK (timeout_ms > 0),
    ADD CONSTRAINT queuetopia_jobs_max_backoff_ms_check CHECK (max_backoff_ms >= 0),
    ADD CONSTRAINT queuetopia_jobs_max_attempts_check CHECK (max_attempts > 0),
    ADD CONSTRAINT queuetopia_jobs_on_exhausted_check CHECK (on_exhausted IN ('skip', 'hold'));
DROP TRIGGER queuetopia_jobs_checked_updates ON queuetopia_jobs;
DROP TRIGGER queuetopia_jobs_checked_inserts ON queuetopia_jobs;
DROP FUNCTION queuetopia_check_job();
DROP FUNCTION queuetopia_job_ok(queuetopia_jobs);
