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
-- The same decision, in Rust, for SQLite and MySQL: `claim_walk` in
-- src/store/queue_rule.rs; the store conformance suite holds both to it.
--
-- The rows it locked are found again by address (ctid), never by
-- `queue = ANY(array)`: a generic plan made while the queues table looked
-- empty would read every queue of the scope for that.
--
-- Returns a row per claimed job (role 'claimed'), then one row 'examined'
-- with how many queues were looked at and, when fewer than p_limit, the
-- clock and the earliest ready_at after it (when to look again).
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
-- The tables the migration's search path found, whatever the caller's
-- (see check_job.sql).
SET search_path FROM CURRENT
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
          AND q.paused_at IS NULL
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
              AND q.paused_at IS NULL
        ) THEN
            wake_next := v_now + interval '20 milliseconds';
        ELSE
            SELECT min(q.ready_at) INTO wake_next
            FROM queuetopia_queues q
            WHERE q.scope = p_scope AND q.ready_at > v_now AND q.paused_at IS NULL;
        END IF;
    END IF;
    RETURN NEXT;
END
$fn$;
