-- The hot path as server-side functions: a claim, or a result written
-- together with the claim of the slot's next queue, is one round trip and
-- (for a result) one commit.
--
-- They run in READ COMMITTED, and a VOLATILE function takes a fresh snapshot
-- for each statement: each step sees every job committed before the row
-- locks of the previous step were granted. They are PL/pgSQL, whose
-- statement plans are kept per connection, and use generic plans (the
-- parameters only pick index entries): planning a statement anew on every
-- call would cost more than running it.

-- Recomputes a queue's row from its jobs, after a write changed its head.
-- Runs while the transaction holds the queue row's lock.
--
-- $1 scope, $2 queue, $3 pinned clock or NULL,
-- $4 release the lock (else keep it until its lease runs out),
-- $5 clear the running attempt (its result is written).
CREATE FUNCTION queuetopia_refresh(text, text, timestamptz, boolean, boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $fn$
BEGIN
WITH head AS (
    SELECT j.attempts, j.max_attempts, j.scheduled_at, j.next_attempt_at, j.error
    FROM queuetopia_jobs j
    WHERE j.scope = $1 AND j.queue = $2 AND j.done_at IS NULL AND j.given_up_at IS NULL
    ORDER BY j.scheduled_at, j.sequence
    LIMIT 1
)
UPDATE queuetopia_queues q SET
    running_job_id = CASE WHEN $5 THEN NULL ELSE q.running_job_id END,
    locked_by = CASE WHEN $4 THEN NULL ELSE q.locked_by END,
    locked_until = CASE WHEN $4 THEN NULL ELSE q.locked_until END,
    lock_token = CASE WHEN $4 THEN NULL ELSE q.lock_token END,
    ready_at = (
        SELECT CASE WHEN h.attempts >= h.max_attempts THEN NULL
               -- Not before now: a queue whose job just ended goes behind the
               -- queues already waiting (round robin), however old its head.
               ELSE GREATEST(h.scheduled_at, h.next_attempt_at,
                             CASE WHEN NOT $4 THEN q.locked_until END,
                             COALESCE($3::timestamptz, now()))
               END
        FROM head h
    ),
    blocked_since = CASE
        WHEN (SELECT h.error IS NOT NULL FROM head h)
        THEN COALESCE(q.blocked_since, COALESCE($3::timestamptz, now()))
    END
WHERE q.scope = $1 AND q.queue = $2;
END
$fn$;

-- Claims up to p_limit ready queues for p_node: locks their rows (skipping
-- rows another transaction holds), decides from each one's head, and counts
-- an attempt of each head that may run now.
--
--   abandoned: the last attempt's lease ran out without a result: lock the
--              queue so the claimer records that failure;
--   run:       the head may run now: lock the queue, count the attempt;
--   waiting:   the head runs later: move ready_at to that time;
--   idle:      no open job, or the head is held: nothing to do until a write.
--
-- Returns a row per claimed job (role 'claimed'), then one row 'examined'
-- with how many queues were looked at and, when fewer than p_limit, the
-- clock and the earliest ready_at after it (when to look again).
CREATE FUNCTION queuetopia_claim(
    p_scope text, p_now timestamptz, p_limit bigint, p_node text,
    p_margin_ms bigint, p_token bigint, p_cap_ms bigint
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
AS $fn$
#variable_conflict use_column
DECLARE
    v_now timestamptz := COALESCE(p_now, now());
    v_queues text[];
BEGIN
    -- Each statement below must see what was committed before it began.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'queuetopia needs READ COMMITTED transactions, not %',
            current_setting('transaction_isolation');
    END IF;
    SELECT array_agg(l.queue) INTO v_queues
    FROM (
        SELECT q.queue
        FROM queuetopia_queues q
        WHERE q.scope = p_scope
          AND q.ready_at <= v_now
          AND (q.locked_until IS NULL OR q.locked_until <= v_now)
        ORDER BY q.ready_at
        LIMIT p_limit
        FOR UPDATE SKIP LOCKED
    ) l;
    examined := COALESCE(cardinality(v_queues), 0);
    IF examined > 0 THEN
        -- A statement of its own: its snapshot is taken after the row locks
        -- above were granted.
        RETURN QUERY
        WITH picked AS (
            SELECT q.queue, q.running_job_id
            FROM queuetopia_queues q
            WHERE q.scope = p_scope AND q.queue = ANY(v_queues)
        ),
        decided AS (
            SELECT
                p.queue,
                COALESCE(r.id, h.id) AS job_id,
                CASE
                    WHEN r.id IS NOT NULL THEN 'abandoned'
                    WHEN h.id IS NULL OR h.attempts >= h.max_attempts THEN 'idle'
                    WHEN h.scheduled_at > v_now OR h.next_attempt_at > v_now THEN 'waiting'
                    ELSE 'run'
                END AS decision,
                GREATEST(h.scheduled_at, h.next_attempt_at) AS head_ready_at,
                v_now + LEAST(COALESCE(r.timeout_ms, h.timeout_ms) + p_margin_ms, p_cap_ms)
                    * interval '1 millisecond' AS lease_until
            FROM picked p
            -- A lookup by primary key (LIMIT keeps it one): as a plain join,
            -- a planner with stale statistics may scan every open job instead.
            LEFT JOIN LATERAL (
                SELECT r.id, r.timeout_ms
                FROM queuetopia_jobs r
                WHERE r.id = p.running_job_id AND r.done_at IS NULL AND r.given_up_at IS NULL
                LIMIT 1
            ) r ON true
            LEFT JOIN LATERAL (
                SELECT j.id, j.attempts, j.max_attempts, j.scheduled_at, j.next_attempt_at,
                       j.timeout_ms
                FROM queuetopia_jobs j
                WHERE j.scope = p_scope AND j.queue = p.queue
                  AND j.done_at IS NULL AND j.given_up_at IS NULL
                ORDER BY j.scheduled_at, j.sequence
                LIMIT 1
            ) h ON true
        ),
        queue_update AS (
            UPDATE queuetopia_queues q SET
                locked_by = CASE WHEN d.decision IN ('run', 'abandoned') THEN p_node END,
                locked_until = CASE WHEN d.decision IN ('run', 'abandoned') THEN d.lease_until END,
                lock_token = CASE WHEN d.decision IN ('run', 'abandoned') THEN p_token END,
                running_job_id = CASE WHEN d.decision IN ('run', 'abandoned') THEN d.job_id END,
                ready_at = CASE d.decision
                    WHEN 'run' THEN d.lease_until
                    WHEN 'abandoned' THEN d.lease_until
                    WHEN 'waiting' THEN d.head_ready_at
                END
            FROM decided d
            WHERE q.scope = p_scope AND q.queue = d.queue
        ),
        job_update AS (
            UPDATE queuetopia_jobs j SET
                attempts = j.attempts + 1,
                attempted_at = v_now,
                attempted_by = p_node,
                updated_at = v_now
            FROM decided d
            WHERE j.id = d.job_id AND d.decision = 'run'
            RETURNING j.*
        )
        SELECT 'claimed', false, NULL::integer, NULL::timestamptz, NULL::timestamptz, u.*
        FROM job_update u
        UNION ALL
        SELECT 'claimed', true, NULL::integer, NULL::timestamptz, NULL::timestamptz, j.*
        FROM queuetopia_jobs j
        JOIN decided d ON j.id = d.job_id AND d.decision = 'abandoned';
    END IF;
    role := 'examined';
    IF examined < p_limit THEN
        wake_now := v_now;
        -- A queue still ready here was skipped: another transaction held its
        -- row (another node's claim, or a creation, which wakes nobody when
        -- the queue was already ready before it). Look again shortly.
        IF EXISTS (
            SELECT 1 FROM queuetopia_queues q
            WHERE q.scope = p_scope AND q.ready_at <= v_now
              AND (q.locked_until IS NULL OR q.locked_until <= v_now)
        ) THEN
            wake_next := v_now + interval '20 milliseconds';
        ELSE
            SELECT min(q.ready_at) INTO wake_next
            FROM queuetopia_queues q
            WHERE q.scope = p_scope AND q.ready_at > v_now;
        END IF;
    END IF;
    RETURN NEXT;
END
$fn$;

-- Writes an attempt's result under the queue's lock, then (p_next_limit > 0)
-- claims the slot's next queue in the same transaction: one commit per job.
--
-- Returns nothing when the lock is no longer this attempt's (nothing is
-- written then); else the job as stored (role 'finished'), then what
-- queuetopia_claim returns.
CREATE FUNCTION queuetopia_finish(
    p_scope text, p_queue text, p_node text, p_job_id bigint, p_token bigint,
    p_attempt integer, p_now timestamptz,
    p_ok boolean, p_error text, p_backoff_ms bigint, p_give_up boolean, p_keep_lock boolean,
    p_next_limit bigint, p_margin_ms bigint, p_next_token bigint, p_cap_ms bigint
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
AS $fn$
#variable_conflict use_column
DECLARE
    v_now timestamptz := COALESCE(p_now, now());
    v_head record;
BEGIN
    -- Each statement below must see what was committed before it began.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'queuetopia needs READ COMMITTED transactions, not %',
            current_setting('transaction_isolation');
    END IF;
    -- The queue's row, locked, and still under this attempt's lock.
    PERFORM 1
    FROM queuetopia_queues q
    WHERE q.scope = p_scope AND q.queue = p_queue
      AND q.locked_by = p_node AND q.running_job_id = p_job_id AND q.lock_token = p_token
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
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
    -- and no other queue of the scope is waiting for its turn: what the
    -- refresh and the claim below would decide, in two writes instead of
    -- four (a queue draining alone costs one commit and little else).
    -- The probe for waiting queues comes first: with many queues and few
    -- slots it fails, and the head lookup is left to the refresh alone.
    IF p_next_limit > 0 AND NOT p_keep_lock AND NOT EXISTS (
        SELECT 1 FROM queuetopia_queues q
        WHERE q.scope = p_scope AND q.queue <> p_queue
          AND q.ready_at <= v_now
          AND (q.locked_until IS NULL OR q.locked_until <= v_now)
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
