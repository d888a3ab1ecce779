-- Writes an attempt's result under the queue's lock, then (p_next_limit > 0)
-- claims the slot's next queue in the same transaction: one commit per job.
-- Unless p_wait, a queue row that another transaction holds is not waited
-- for: the result comes back as a 'busy' row with its job id, and nothing
-- is written.
--
-- Returns nothing when the lock is no longer this attempt's (nothing is
-- written then); else the job as stored (role 'finished'), then what
-- queuetopia_claim returns.
CREATE OR REPLACE FUNCTION queuetopia_finish(
    p_scope text, p_queue text, p_node text, p_job_id bigint, p_token bigint,
    p_attempt integer, p_now timestamptz,
    p_ok boolean, p_error text, p_backoff_ms bigint, p_give_up boolean, p_keep_lock boolean,
    p_next_limit bigint, p_margin_ms bigint, p_next_token bigint, p_cap_ms bigint,
    p_wait boolean
)
RETURNS TABLE (
    role text, abandoned boolean, examined integer, wake_now timestamptz, wake_next timestamptz,
    id bigint, scope text, queue text, action text, params jsonb, sequence bigint,
    scheduled_at timestamptz, timeout_ms bigint, max_backoff_ms bigint, max_attempts integer,
    on_exhausted text, attempts integer, attempted_at timestamptz, attempted_by text,
    next_attempt_at timestamptz, done_at timestamptz, given_up_at timestamptz, error text,
    inserted_at timestamptz, updated_at timestamptz
)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET enable_bitmapscan = off
-- The tables the migration's search path found, whatever the caller's
-- (see check_job.sql).
SET search_path FROM CURRENT
AS $fn$
#variable_conflict use_column
DECLARE
    v_now timestamptz := COALESCE(p_now, now());
    v_head record;
    -- An operator paused the queue: its lock is not handed on.
    v_paused boolean;
BEGIN
    -- Each statement below must see what was committed before it began.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'queuetopia needs READ COMMITTED transactions, not %',
            current_setting('transaction_isolation');
    END IF;
    -- The queue's row, locked, and still under this attempt's lock.
    IF p_wait THEN
        SELECT q.paused_at IS NOT NULL INTO v_paused
        FROM queuetopia_queues q
        WHERE q.scope = p_scope AND q.queue = p_queue
          AND q.locked_by = p_node AND q.running_job_id = p_job_id AND q.lock_token = p_token
        FOR UPDATE;
        IF NOT FOUND THEN
            RETURN;
        END IF;
    ELSE
        SELECT q.paused_at IS NOT NULL INTO v_paused
        FROM queuetopia_queues q
        WHERE q.scope = p_scope AND q.queue = p_queue
          AND q.locked_by = p_node AND q.running_job_id = p_job_id AND q.lock_token = p_token
        FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            -- Another transaction holds the row (then its last committed
            -- version still shows this attempt's lock), or the lock is gone.
            IF EXISTS (
                SELECT 1
                FROM queuetopia_queues q
                WHERE q.scope = p_scope AND q.queue = p_queue
                  AND q.locked_by = p_node AND q.running_job_id = p_job_id
                  AND q.lock_token = p_token
            ) THEN
                role := 'busy';
                id := p_job_id;
                RETURN NEXT;
            END IF;
            RETURN;
        END IF;
    END IF;
    IF p_ok THEN
        RETURN QUERY
        UPDATE queuetopia_jobs j SET
            done_at = v_now,
            error = NULL,
            next_attempt_at = NULL,
            updated_at = v_now
        WHERE j.id = p_job_id AND j.attempts = p_attempt
        RETURNING 'finished'::text, false, NULL::integer, NULL::timestamptz, NULL::timestamptz, j.*;
    ELSE
        RETURN QUERY
        UPDATE queuetopia_jobs j SET
            error = p_error,
            next_attempt_at = v_now + p_backoff_ms * interval '1 millisecond',
            given_up_at = CASE WHEN p_give_up THEN v_now END,
            updated_at = v_now
        WHERE j.id = p_job_id AND j.attempts = p_attempt
        RETURNING 'finished'::text, false, NULL::integer, NULL::timestamptz, NULL::timestamptz, j.*;
    END IF;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- The queue keeps its lock for its next job when that job may run now
    -- (the queue is not paused, the job has attempts left, its time has
    -- come) and no other queue of the scope is waiting for its turn: what the
    -- refresh and the claim below would decide, in two writes instead of
    -- four (a queue draining alone costs one commit and little else).
    -- The probe for waiting queues comes first: with many queues and few
    -- slots it fails, and the head lookup is left to the refresh alone.
    IF p_next_limit > 0 AND NOT p_keep_lock AND NOT v_paused AND NOT EXISTS (
        SELECT 1 FROM queuetopia_queues q
        WHERE q.scope = p_scope AND q.queue <> p_queue
          AND q.ready_at <= v_now
          AND (q.locked_until IS NULL OR q.locked_until <= v_now)
          AND q.paused_at IS NULL
    ) THEN
        SELECT j.id, j.timeout_ms, j.error, j.attempts, j.max_attempts, j.scheduled_at,
               j.next_attempt_at
        INTO v_head
        FROM queuetopia_jobs j
        WHERE j.scope = p_scope AND j.queue = p_queue
          AND j.done_at IS NULL AND j.given_up_at IS NULL
        ORDER BY j.scheduled_at, j.sequence
        LIMIT 1;
        IF FOUND
            AND v_head.attempts < v_head.max_attempts
            AND v_head.scheduled_at <= v_now
            AND (v_head.next_attempt_at IS NULL OR v_head.next_attempt_at <= v_now)
        THEN
            UPDATE queuetopia_queues q SET
                locked_until = v_now + LEAST(v_head.timeout_ms + p_margin_ms, p_cap_ms)
                    * interval '1 millisecond',
                lock_token = p_next_token,
                running_job_id = v_head.id,
                ready_at = v_now + LEAST(v_head.timeout_ms + p_margin_ms, p_cap_ms)
                    * interval '1 millisecond',
                blocked_since = CASE
                    WHEN v_head.error IS NOT NULL THEN COALESCE(q.blocked_since, v_now)
                END
            WHERE q.scope = p_scope AND q.queue = p_queue;
            RETURN QUERY
            UPDATE queuetopia_jobs j SET
                attempts = j.attempts + 1,
                attempted_at = v_now,
                attempted_by = p_node,
                updated_at = v_now
            WHERE j.id = v_head.id
            RETURNING 'claimed'::text, false, NULL::integer, NULL::timestamptz,
                NULL::timestamptz, j.*;
            RETURN;
        END IF;
    END IF;
    PERFORM queuetopia_refresh(p_scope, p_queue, p_now, NOT p_keep_lock, true);
    IF p_next_limit > 0 THEN
        RETURN QUERY
        SELECT * FROM queuetopia_claim(
            p_scope, p_now, p_next_limit, p_node, p_margin_ms, p_next_token, p_cap_ms
        );
    END IF;
END
$fn$;
