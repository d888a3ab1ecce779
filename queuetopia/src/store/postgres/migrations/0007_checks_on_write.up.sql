-- The jobs table's eight CHECK constraints become one trigger function.
-- PostgreSQL parses and prepares every CHECK constraint of a table again
-- for each statement that writes to it, whichever columns that statement
-- sets: a job's row is updated twice per job (its attempt, its result), and
-- those updates never set a checked column, yet paid for all eight (about
-- 45 µs per update on the development machine; see BENCHMARKS.md). The
-- trigger checks every row a statement inserts (once per statement, over
-- its new rows) and every row an update sets a checked column of: the same
-- rows are refused, with the same SQLSTATE (23514, check_violation).
CREATE FUNCTION queuetopia_check_job()
RETURNS trigger
LANGUAGE plpgsql
AS $fn$
DECLARE
    v_bad bigint;
BEGIN
    IF TG_LEVEL = 'ROW' THEN
        SELECT NEW.id INTO v_bad
        WHERE NOT (
            octet_length(NEW.scope) BETWEEN 1 AND 255
            AND octet_length(NEW.queue) BETWEEN 1 AND 255
            AND octet_length(NEW.action) BETWEEN 1 AND 255
            AND jsonb_typeof(NEW.params) = 'object'
            AND NEW.timeout_ms > 0
            AND NEW.max_backoff_ms >= 0
            AND NEW.max_attempts > 0
            AND (NEW.on_exhausted IS NULL OR NEW.on_exhausted IN ('skip', 'hold'))
        );
    ELSE
        SELECT n.id INTO v_bad
        FROM queuetopia_new_jobs n
        WHERE NOT (
            octet_length(n.scope) BETWEEN 1 AND 255
            AND octet_length(n.queue) BETWEEN 1 AND 255
            AND octet_length(n.action) BETWEEN 1 AND 255
            AND jsonb_typeof(n.params) = 'object'
            AND n.timeout_ms > 0
            AND n.max_backoff_ms >= 0
            AND n.max_attempts > 0
            AND (n.on_exhausted IS NULL OR n.on_exhausted IN ('skip', 'hold'))
        )
        LIMIT 1;
    END IF;
    IF FOUND THEN
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
