-- Generic plans are made once per session, with the statistics of that
-- moment. Two statements still read a queue's row by `queue = ANY(array)`
-- beside the scope, and on statistics taken while the queues table looked
-- empty their plans read every queue of the scope instead: the claim's
-- read and update of the queues it picked (15-19 ms a claim beside 10,000
-- queues, where 0.3 ms will do), and the batch of results' row locks.
-- Now the claim keeps the addresses of the rows it locked and finds them
-- by address, and the batch locks each queue's row by its primary key.
-- And the claim's first read, of the ready queues, was planned as a bitmap
-- of every ready queue of the scope, sorted, for a claim of ten (found by
-- tests/plans.rs): bitmap scans are off in every function (at the end).
--
-- The claim, as in migration 4 but for the picked queues.
CREATE OR REPLACE FUNCTION queuetopia_claim(
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
SET enable_seqscan = off
-- The ready queues are read in order of the ready-queues index, up to the
-- limit: never all of them into a bitmap, then sorted.
SET enable_bitmapscan = off
AS $fn$
#variable_conflict use_column
DECLARE
    v_now timestamptz := COALESCE(p_now, now());
    v_queues text[];
    v_running bigint[];
    v_rows tid[];
BEGIN
    -- Each statement below must see what was committed before it began.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'queuetopia needs READ COMMITTED transactions, not %',
            current_setting('transaction_isolation');
    END IF;
    -- The locked rows' own addresses (ctid): nobody else can update them
    -- before this transaction ends, so the update below finds them again
    -- by address, whatever the statistics say about the table.
    SELECT array_agg(l.queue), array_agg(l.running_job_id), array_agg(l.ctid)
    INTO v_queues, v_running, v_rows
    FROM (
        SELECT q.queue, q.running_job_id, q.ctid
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
            -- as locked above (a locked row returns its latest version)
            SELECT p.queue, p.running_job_id
            FROM unnest(v_queues, v_running) AS p(queue, running_job_id)
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
            -- A lookup by primary key alone: LIMIT keeps the job's state out
            -- of the subquery, so no plan can serve it from the open-jobs
            -- index (which a generic plan made while that index looked
            -- small did, reading every open job for each queue).
            LEFT JOIN LATERAL (
                SELECT r.id, r.timeout_ms, r.done_at, r.given_up_at
                FROM queuetopia_jobs r
                WHERE r.id = p.running_job_id
                LIMIT 1
            ) r ON r.done_at IS NULL AND r.given_up_at IS NULL
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
            WHERE q.ctid = ANY(v_rows) AND q.queue = d.queue
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

-- A batch of results, as in migration 3 but for the row locks of the
-- queues (and, as every function since migration 4, no full reads).
CREATE OR REPLACE FUNCTION queuetopia_finish_batch(
    p_scope text, p_node text, p_now timestamptz,
    p_queues text[], p_job_ids bigint[], p_tokens bigint[], p_attempts integer[],
    p_ok boolean[], p_errors text[], p_backoff_ms bigint[], p_give_up boolean[],
    p_keep_lock boolean[],
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
AS $fn$
#variable_conflict use_column
DECLARE
    r record;
    v_free text[];
    v_busy bigint[] := '{}';
    v_tried integer;
BEGIN
    IF cardinality(p_job_ids) = 1 THEN
        RETURN QUERY
        SELECT * FROM queuetopia_finish(
            p_scope, p_queues[1], p_node, p_job_ids[1], p_tokens[1], p_attempts[1], p_now,
            p_ok[1], p_errors[1], p_backoff_ms[1], p_give_up[1], p_keep_lock[1],
            p_next_limit, p_margin_ms, p_next_token, p_cap_ms, p_wait
        );
        RETURN;
    END IF;
    IF NOT p_wait THEN
        -- Each queue's row by its whole primary key (LIMIT keeps it one
        -- lookup per queue, whatever the statistics); SKIP LOCKED never
        -- waits, so the order of the locks does not matter.
        SELECT COALESCE(array_agg(l.queue), '{}') INTO v_free
        FROM unnest(p_queues) AS p(queue)
        JOIN LATERAL (
            SELECT q.queue
            FROM queuetopia_queues q
            WHERE q.scope = p_scope AND q.queue = p.queue
            LIMIT 1
            FOR UPDATE SKIP LOCKED
        ) l ON true;
        FOR i IN 1 .. cardinality(p_queues) LOOP
            CONTINUE WHEN p_queues[i] = ANY(v_free);
            v_busy := v_busy || p_job_ids[i];
            role := 'busy';
            id := p_job_ids[i];
            RETURN NEXT;
        END LOOP;
    END IF;
    v_tried := cardinality(p_job_ids) - cardinality(v_busy);
    FOR r IN
        SELECT *
        FROM unnest(
            p_queues, p_job_ids, p_tokens, p_attempts, p_ok, p_errors, p_backoff_ms,
            p_give_up, p_keep_lock
        ) AS t(queue, job_id, token, attempt, ok, error, backoff_ms, give_up, keep_lock)
        ORDER BY t.queue
    LOOP
        CONTINUE WHEN r.job_id = ANY(v_busy);
        RETURN QUERY
        SELECT * FROM queuetopia_finish(
            p_scope, r.queue, p_node, r.job_id, r.token, r.attempt, p_now,
            r.ok, r.error, r.backoff_ms, r.give_up, r.keep_lock,
            0, 0, 0, NULL, true
        );
    END LOOP;
    IF p_next_limit > 0 AND v_tried > 0 THEN
        RETURN QUERY
        SELECT * FROM queuetopia_claim(
            p_scope, p_now, LEAST(p_next_limit, v_tried), p_node, p_margin_ms, p_next_token,
            p_cap_ms
        );
    END IF;
END
$fn$;

-- No bitmap scans in the other functions either: with statistics of an
-- empty table, a single result's probe "does another queue wait?" read
-- every ready queue of the scope into a bitmap, where an index scan stops
-- at the first (found by tests/plans.rs). Every statement of these
-- functions reads a few rows by key; none needs a bitmap.
ALTER FUNCTION queuetopia_finish(
    text, text, text, bigint, bigint, integer, timestamptz,
    boolean, text, bigint, boolean, boolean, bigint, bigint, bigint, bigint, boolean
) SET enable_bitmapscan = off;
ALTER FUNCTION queuetopia_refresh(text, text, timestamptz, boolean, boolean)
    SET enable_bitmapscan = off;
ALTER FUNCTION queuetopia_insert(
    text, text[], text[], text[], timestamptz[], bigint[], bigint[], bigint[], integer[],
    text[], timestamptz, text
) SET enable_bitmapscan = off;
ALTER FUNCTION queuetopia_insert_one(
    text, text, text, text, timestamptz, bigint, bigint, bigint, integer, text, timestamptz, text
) SET enable_bitmapscan = off;
