-- Writes a batch of results, and claims the freed slots' next queues, in a
-- few statements for the whole batch (not a call of queuetopia_finish per
-- result). A single result goes through queuetopia_finish, whose fast path
-- hands the lock straight on. Several are locked first (skipping the rows
-- other transactions hold, unless p_wait: then waiting for them, in name
-- order), then, each in one statement for the whole batch: the results
-- whose lock is still their attempt's are written; their queues are
-- refreshed from their new heads, releasing or keeping their locks; one
-- claim of as many queues as results were tried. Each statement takes its
-- snapshot after the previous one ended (READ COMMITTED, checked by
-- queuetopia_claim and queuetopia_finish), so the writes see every job
-- committed before the row locks were granted.
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
-- The tables the migration's search path found, whatever the caller's
-- (see check_job.sql).
SET search_path FROM CURRENT
AS $fn$
#variable_conflict use_column
DECLARE
    v_now timestamptz := COALESCE(p_now, now());
    v_locked text[];
    v_written queuetopia_jobs[];
    v_busy bigint := 0;
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
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'queuetopia needs READ COMMITTED transactions, not %',
            current_setting('transaction_isolation');
    END IF;
    -- The queues' rows, each by its whole primary key (LIMIT keeps it one
    -- lookup per queue, whatever the statistics).
    IF p_wait THEN
        -- Waiting, so in name order: two batches never wait for each other
        -- in a cycle.
        SELECT COALESCE(array_agg(l.queue), '{}') INTO v_locked
        FROM (
            SELECT DISTINCT p.queue FROM unnest(p_queues) AS p(queue) ORDER BY p.queue
        ) p
        JOIN LATERAL (
            SELECT q.queue
            FROM queuetopia_queues q
            WHERE q.scope = p_scope AND q.queue = p.queue
            LIMIT 1
            FOR UPDATE
        ) l ON true;
    ELSE
        -- SKIP LOCKED never waits, so the order of the locks does not
        -- matter. A result whose row another transaction holds is 'busy'.
        SELECT COALESCE(array_agg(l.queue), '{}') INTO v_locked
        FROM unnest(p_queues) AS p(queue)
        JOIN LATERAL (
            SELECT q.queue
            FROM queuetopia_queues q
            WHERE q.scope = p_scope AND q.queue = p.queue
            LIMIT 1
            FOR UPDATE SKIP LOCKED
        ) l ON true;
        RETURN QUERY
        SELECT 'busy'::text, NULL::boolean, NULL::integer, NULL::timestamptz,
            NULL::timestamptz, t.job_id, NULL::text, NULL::text, NULL::text, NULL::jsonb,
            NULL::bigint, NULL::timestamptz, NULL::bigint, NULL::bigint, NULL::integer,
            NULL::text, NULL::integer, NULL::timestamptz, NULL::text, NULL::timestamptz,
            NULL::timestamptz, NULL::timestamptz, NULL::text, NULL::timestamptz,
            NULL::timestamptz
        FROM unnest(p_queues, p_job_ids) AS t(queue, job_id)
        WHERE NOT t.queue = ANY(v_locked);
        GET DIAGNOSTICS v_busy = ROW_COUNT;
    END IF;
    -- The results whose queue's lock is still their attempt's, written.
    WITH owned AS (
        SELECT t.*
        FROM unnest(
            p_queues, p_job_ids, p_tokens, p_attempts, p_ok, p_errors, p_backoff_ms,
            p_give_up
        ) AS t(queue, job_id, token, attempt, ok, error, backoff_ms, give_up)
        JOIN LATERAL (
            SELECT 1
            FROM queuetopia_queues q
            WHERE q.scope = p_scope AND q.queue = t.queue
              AND q.locked_by = p_node AND q.running_job_id = t.job_id
              AND q.lock_token = t.token
            LIMIT 1
        ) l ON true
        WHERE t.queue = ANY(v_locked)
    ),
    written AS (
        UPDATE queuetopia_jobs j SET
            done_at = CASE WHEN o.ok THEN v_now ELSE j.done_at END,
            error = CASE WHEN NOT o.ok THEN o.error END,
            next_attempt_at = CASE
                WHEN NOT o.ok THEN v_now + o.backoff_ms * interval '1 millisecond'
            END,
            given_up_at = CASE WHEN o.ok THEN j.given_up_at WHEN o.give_up THEN v_now END,
            updated_at = v_now
        FROM owned o
        WHERE j.id = o.job_id AND j.attempts = o.attempt
        RETURNING j
    )
    SELECT COALESCE(array_agg(w.j), '{}') INTO v_written FROM written w;
    RETURN QUERY
    SELECT 'finished'::text, false, NULL::integer, NULL::timestamptz, NULL::timestamptz, w.*
    FROM unnest(v_written) AS w;
    -- Their queues, recomputed from their heads (as queuetopia_refresh does
    -- for one): the lock released, or kept until its lease runs out (a
    -- timed-out attempt's), the running attempt cleared.
    UPDATE queuetopia_queues q SET
        running_job_id = NULL,
        locked_by = CASE WHEN w.keep_lock THEN q.locked_by END,
        locked_until = CASE WHEN w.keep_lock THEN q.locked_until END,
        lock_token = CASE WHEN w.keep_lock THEN q.lock_token END,
        ready_at = CASE
            WHEN h.id IS NULL OR h.attempts >= h.max_attempts THEN NULL
            -- Not before now: a queue whose job just ended goes behind the
            -- queues already waiting (round robin), however old its head.
            ELSE GREATEST(h.scheduled_at, h.next_attempt_at,
                          CASE WHEN w.keep_lock THEN q.locked_until END, v_now)
        END,
        blocked_since = CASE WHEN h.error IS NOT NULL THEN COALESCE(q.blocked_since, v_now) END
    FROM (
        SELECT t.queue, bool_or(t.keep_lock) AS keep_lock
        FROM unnest(p_queues, p_job_ids, p_keep_lock) AS t(queue, job_id, keep_lock)
        JOIN unnest(v_written) AS d ON d.id = t.job_id
        GROUP BY t.queue
    ) w
    LEFT JOIN LATERAL (
        SELECT j.id, j.attempts, j.max_attempts, j.scheduled_at, j.next_attempt_at, j.error
        FROM queuetopia_jobs j
        WHERE j.scope = p_scope AND j.queue = w.queue
          AND j.done_at IS NULL AND j.given_up_at IS NULL
        ORDER BY j.scheduled_at, j.sequence
        LIMIT 1
    ) h ON true
    WHERE q.scope = p_scope AND q.queue = w.queue;
    -- As many queues as results were tried (every one but the busy ones).
    IF p_next_limit > 0 AND cardinality(p_job_ids) > v_busy THEN
        RETURN QUERY
        SELECT * FROM queuetopia_claim(
            p_scope, p_now, LEAST(p_next_limit, cardinality(p_job_ids) - v_busy), p_node,
            p_margin_ms, p_next_token, p_cap_ms
        );
    END IF;
END
$fn$;
