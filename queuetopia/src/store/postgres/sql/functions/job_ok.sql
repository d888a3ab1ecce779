-- Whether a job row keeps the rules of the jobs table (on_exhausted may be
-- NULL). The table has no CHECK constraints: PostgreSQL prepares every
-- CHECK constraint of a table again for each statement that writes to it,
-- whichever columns that statement sets, and a job's row is updated twice
-- per job (its attempt, its result) without ever setting a checked column.
-- queuetopia_check_job, a trigger, calls this instead: the same rows are
-- refused, with the same SQLSTATE (23514, check_violation).
CREATE OR REPLACE FUNCTION queuetopia_job_ok(j queuetopia_jobs)
RETURNS boolean
LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT octet_length(j.scope) BETWEEN 1 AND 255
        AND octet_length(j.queue) BETWEEN 1 AND 255
        AND octet_length(j.action) BETWEEN 1 AND 255
        AND jsonb_typeof(j.params) = 'object'
        AND j.timeout_ms > 0
        AND j.max_backoff_ms >= 0
        AND j.max_attempts > 0
        AND (j.on_exhausted IS NULL OR j.on_exhausted IN ('skip', 'hold'))
$fn$;
