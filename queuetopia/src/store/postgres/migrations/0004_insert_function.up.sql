-- Creating jobs becomes a server-side function, planned once per session
-- with a generic plan. As a statement sent by the client, its plan was the
-- planner's choice: with some table statistics it planned the whole
-- statement anew for every creation (custom plans), about 1.5 ms each, three
-- times the cost of the creation itself. The parameters only pick rows.
--
-- Creates jobs, many at once, in one statement.
--
-- Each queue's row is created or updated first: it hands out the jobs'
-- sequence numbers, and its row lock, held until the transaction commits,
-- makes sequence order the order of commits. A job without a schedule runs
-- "now", kept monotonic per queue (last_enqueued_at), so that a transaction
-- that began early but committed late still queues behind the earlier commit.
--
-- When a queue becomes claimable (it was not before this creation), the
-- placement's channel ($12, NULL for none) is notified with the scope: at
-- commit, every node of the scope wakes. A creation into a busy queue, or
-- into one already waiting to be claimed, notifies nobody (the running job's
-- end, or the wake-up that made it claimable, wakes the nodes), and
-- PostgreSQL folds the notifications of one transaction into one.
--
-- $1 scope, $2..$10 one array per column, $11 the pinned clock (or NULL),
-- $12 the channel.
--
-- Returns each job as stored, in input order, with whether some queue it
-- went to became claimable (wake) and how many notifications were sent.
CREATE FUNCTION queuetopia_insert(
    text, text[], text[], text[], timestamptz[], bigint[], bigint[], bigint[], integer[],
    text[], timestamptz, text
)
RETURNS TABLE (
    id bigint, scope text, queue text, action text, params jsonb, sequence bigint,
    scheduled_at timestamptz, timeout_ms bigint, max_backoff_ms bigint, max_attempts integer,
    on_exhausted text, attempts integer, attempted_at timestamptz, attempted_by text,
    next_attempt_at timestamptz, done_at timestamptz, given_up_at timestamptz, error text,
    inserted_at timestamptz, updated_at timestamptz, wake boolean, notified bigint
)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH input AS (
        SELECT t.*, COALESCE($11::timestamptz, now()) AS now
        FROM unnest(
            $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::bigint[],
            $7::bigint[], $8::bigint[], $9::int[], $10::text[]
        ) WITH ORDINALITY AS t(
            queue, action, params, scheduled_at, delay_ms,
            timeout_ms, max_backoff_ms, max_attempts, on_exhausted, ord
        )
    ),
    per_queue AS (
        SELECT
            queue,
            count(*) AS n,
            min(now) AS now,
            bool_or(scheduled_at IS NULL AND delay_ms IS NULL) AS has_now,
            min(COALESCE(scheduled_at, now + delay_ms * interval '1 millisecond')) AS first_timed
        FROM input
        GROUP BY queue
    ),
    -- One lookup by primary key per queue: LIMIT keeps the queue's state
    -- out of the subquery, so no plan (made once, for any input) can serve
    -- it from the ready-queues index, reading every ready queue instead.
    claimable_before AS (
        SELECT p.queue
        FROM per_queue p
        JOIN LATERAL (
            SELECT q.ready_at, q.locked_until
            FROM queuetopia_queues q
            WHERE q.scope = $1 AND q.queue = p.queue
            LIMIT 1
        ) q ON q.ready_at <= COALESCE($11::timestamptz, now())
            AND (q.locked_until IS NULL OR q.locked_until <= COALESCE($11::timestamptz, now()))
    ),
    queue_rows AS (
        INSERT INTO queuetopia_queues AS q (scope, queue, next_sequence, last_enqueued_at, ready_at)
        SELECT $1, queue, n,
               CASE WHEN has_now THEN now END,
               LEAST(first_timed, CASE WHEN has_now THEN now END)
        FROM per_queue
        ORDER BY queue
        ON CONFLICT (scope, queue) DO UPDATE SET
            next_sequence = q.next_sequence + EXCLUDED.next_sequence,
            last_enqueued_at = GREATEST(q.last_enqueued_at, EXCLUDED.last_enqueued_at),
            -- never later than before, never before a live lease
            ready_at = GREATEST(LEAST(q.ready_at, EXCLUDED.ready_at), q.locked_until)
        RETURNING queue, next_sequence, last_enqueued_at,
            -- whether a scheduler may claim the queue now
            ready_at <= COALESCE($11::timestamptz, now())
                AND (locked_until IS NULL OR locked_until <= COALESCE($11::timestamptz, now())) AS ready
    ),
    inserted AS (
    INSERT INTO queuetopia_jobs (
        scope, queue, action, params, sequence, scheduled_at,
        timeout_ms, max_backoff_ms, max_attempts, on_exhausted, inserted_at, updated_at
    )
    SELECT
        $1, i.queue, i.action, i.params::jsonb,
        r.next_sequence - p.n + row_number() OVER (PARTITION BY i.queue ORDER BY i.ord),
        COALESCE(i.scheduled_at, i.now + i.delay_ms * interval '1 millisecond', r.last_enqueued_at),
        i.timeout_ms, i.max_backoff_ms, i.max_attempts, i.on_exhausted, i.now, i.now
    FROM input i
    JOIN per_queue p USING (queue)
    JOIN queue_rows r USING (queue)
    ORDER BY i.ord
    RETURNING *
    ),
    became_claimable AS (
        SELECT bool_or(ready AND queue NOT IN (SELECT queue FROM claimable_before)) AS yes
        FROM queue_rows
    ),
    notified AS (
        SELECT pg_notify($12, $1)
        WHERE $12::text IS NOT NULL AND (SELECT yes FROM became_claimable)
    )
    SELECT
        inserted.*,
        (SELECT yes FROM became_claimable) AS wake,
        (SELECT count(*) FROM notified) AS notified
    FROM inserted;
END
$fn$;

-- The claim, as in migration 2 but for the running job's lookup (see
-- below): with the statistics of a jobs table analyzed while nearly empty,
-- its generic plan read every open job for each queue it examined (a
-- claim took 2–5 ms instead of 0.3 with 10,000 open jobs).
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

-- Generic plans are made once per session, with the statistics of that
-- moment: a table analyzed while nearly empty looks cheapest to read whole.
-- Every statement of these functions has an index to use; never a full
-- read of a table that may hold millions of jobs.
ALTER FUNCTION queuetopia_refresh(text, text, timestamptz, boolean, boolean)
    SET enable_seqscan = off;
ALTER FUNCTION queuetopia_finish(
    text, text, text, bigint, bigint, integer, timestamptz,
    boolean, text, bigint, boolean, boolean, bigint, bigint, bigint, bigint, boolean
) SET enable_seqscan = off;
ALTER FUNCTION queuetopia_finish_batch(
    text, text, timestamptz, text[], bigint[], bigint[], integer[], boolean[], text[],
    bigint[], boolean[], boolean[], bigint, bigint, bigint, bigint, boolean
) SET enable_seqscan = off;
