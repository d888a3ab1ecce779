-- The jobs table's eight CHECK constraints become one trigger function.
-- PostgreSQL parses and prepares every CHECK constraint of a table again
-- for each statement that writes to it, whichever columns that statement
-- sets: a job's row is updated twice per job (its attempt, its result), and
-- those updates never set a checked column, yet paid for all eight (about
-- 45 µs per update on the development machine; see BENCHMARKS.md). The
-- trigger checks every row a statement inserts (once per statement, over
-- its new rows) and every row an update sets a checked column of: the same
-- rows are refused, with the same SQLSTATE (23514, check_violation).
-- A job row keeps the rules (on_exhausted may be NULL).
CREATE FUNCTION queuetopia_job_ok(j queuetopia_jobs)
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

CREATE FUNCTION queuetopia_check_job()
RETURNS trigger
LANGUAGE plpgsql
AS $fn$
DECLARE
    v_bad bigint;
BEGIN
    IF TG_LEVEL = 'ROW' THEN
        IF NOT queuetopia_job_ok(NEW) THEN
            v_bad := NEW.id;
        END IF;
    ELSE
        SELECT n.id INTO v_bad
        FROM queuetopia_new_jobs n
        WHERE NOT queuetopia_job_ok(n)
        LIMIT 1;
    END IF;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION 'job % breaks a rule of %: names of 1 to 255 bytes, params an object, a positive timeout and attempts, a backoff not negative, on_exhausted skip, hold or none',
            v_bad, TG_TABLE_NAME
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$fn$;

CREATE TRIGGER queuetopia_jobs_checked_inserts
    AFTER INSERT ON queuetopia_jobs
    REFERENCING NEW TABLE AS queuetopia_new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION queuetopia_check_job();

CREATE TRIGGER queuetopia_jobs_checked_updates
    AFTER UPDATE OF scope, queue, action, params, timeout_ms, max_backoff_ms, max_attempts,
        on_exhausted ON queuetopia_jobs
    FOR EACH ROW EXECUTE FUNCTION queuetopia_check_job();

ALTER TABLE queuetopia_jobs
    DROP CONSTRAINT queuetopia_jobs_scope_check,
    DROP CONSTRAINT queuetopia_jobs_queue_check,
    DROP CONSTRAINT queuetopia_jobs_action_check,
    DROP CONSTRAINT queuetopia_jobs_params_check,
    DROP CONSTRAINT queuetopia_jobs_timeout_ms_check,
    DROP CONSTRAINT queuetopia_jobs_max_backoff_ms_check,
    DROP CONSTRAINT queuetopia_jobs_max_attempts_check,
    DROP CONSTRAINT queuetopia_jobs_on_exhausted_check;
