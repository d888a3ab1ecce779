-- Writes the results of many attempts of one node in one transaction (one
-- commit for them all), then claims the freed slots' next queues with one
-- claim.
--
-- Unless p_wait, a queue row that another transaction holds is not waited
-- for (a creation in a caller's open transaction holds its queue's row
-- until the caller commits): that result comes back as a 'busy' row with
-- its job id and nothing written, to be written alone, waiting, so that one
-- held queue never holds up the results of the others. The rows are tried
-- in name order and never waited for; a write that waits holds one row.
--
-- A single result goes through queuetopia_finish with its claim, and keeps
-- that function's fast path (a queue draining alone keeps its lock for its
-- next job). Several are written one by one in queue order, each releasing
-- or keeping its queue's lock as queuetopia_finish does; a result whose
-- lock is no longer its attempt's writes nothing and returns no row. Then
-- one claim of as many queues as results were tried (busy ones aside),
-- which may take the queues just released (behind the ones already
-- waiting: round robin).
--
-- Returns the 'busy' rows, a 'finished' row per result written, then what
-- queuetopia_claim returns.
CREATE FUNCTION queuetopia_finish_batch(
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
AS $fn$
#variable_conflict use_column
DECLARE
    r record;
    v_busy bigint[] := '{}';
    v_tried integer;
BEGIN
    IF NOT p_wait THEN
        FOR r IN
            SELECT t.queue, t.job_id
            FROM unnest(p_queues, p_job_ids) AS t(queue, job_id)
            ORDER BY t.queue
        LOOP
            PERFORM 1 FROM queuetopia_queues q
            WHERE q.scope = p_scope AND q.queue = r.queue
            FOR UPDATE SKIP LOCKED;
            IF NOT FOUND THEN
                v_busy := v_busy || r.job_id;
                role := 'busy';
                id := r.job_id;
                RETURN NEXT;
            END IF;
        END LOOP;
    END IF;
    v_tried := cardinality(p_job_ids) - cardinality(v_busy);
    IF cardinality(p_job_ids) = 1 AND v_tried = 1 THEN
        RETURN QUERY
        SELECT * FROM queuetopia_finish(
            p_scope, p_queues[1], p_node, p_job_ids[1], p_tokens[1], p_attempts[1], p_now,
            p_ok[1], p_errors[1], p_backoff_ms[1], p_give_up[1], p_keep_lock[1],
            p_next_limit, p_margin_ms, p_next_token, p_cap_ms
        );
        RETURN;
    END IF;
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
            0, 0, 0, NULL
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
