-- The trigger function that holds the jobs table to its rules (see
-- queuetopia_job_ok): every row a statement inserts, checked once per
-- statement over its new rows, and every row an update sets a checked
-- column of. Then the two triggers that call it, created when missing (so
-- that applying this file again takes no lock on the table).
CREATE OR REPLACE FUNCTION queuetopia_check_job()
RETURNS trigger
LANGUAGE plpgsql
-- queuetopia_job_ok is named as the placement names it: without a schema
-- when the tables are found through the search path. The path the
-- migration ran with is kept, so that a session reaching the same tables
-- by their schema (Tables::schema), with another path, still finds it.
-- The trigger runs once per insert statement and on updates of the checked
-- columns only (not on claims and results), so the switch costs little.
SET search_path FROM CURRENT
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

DO $do$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_trigger
        WHERE tgrelid = 'queuetopia_jobs'::regclass
          AND tgname = 'queuetopia_jobs_checked_inserts'
    ) THEN
        CREATE TRIGGER queuetopia_jobs_checked_inserts
            AFTER INSERT ON queuetopia_jobs
            REFERENCING NEW TABLE AS queuetopia_new_jobs
            FOR EACH STATEMENT EXECUTE FUNCTION queuetopia_check_job();
    END IF;
    IF NOT EXISTS (
        SELECT 1 FROM pg_trigger
        WHERE tgrelid = 'queuetopia_jobs'::regclass
          AND tgname = 'queuetopia_jobs_checked_updates'
    ) THEN
        CREATE TRIGGER queuetopia_jobs_checked_updates
            AFTER UPDATE OF scope, queue, action, params, timeout_ms, max_backoff_ms,
                max_attempts, on_exhausted ON queuetopia_jobs
            FOR EACH ROW EXECUTE FUNCTION queuetopia_check_job();
    END IF;
END
$do$;
