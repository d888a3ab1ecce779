-- Creates a single job, the creation made most often: the same steps as
-- queuetopia_insert, as plain statements, without the set machinery a batch
-- needs (arrays, grouping, a window, sorts), which costs more than the
-- statements themselves for one job (see BENCHMARKS.md).
--
-- $1 scope, $2 queue, $3 action, $4 params as JSON text, $5 scheduled at,
-- $6 delay in ms, $7 timeout in ms, $8 longest backoff in ms, $9 attempts,
-- $10 exhaustion policy, $11 the pinned clock (or NULL), $12 the channel
-- (or NULL).
CREATE OR REPLACE FUNCTION queuetopia_insert_one(
    p_scope text, p_queue text, p_action text, p_params text, p_at timestamptz,
    p_delay_ms bigint, p_timeout_ms bigint, p_backoff_ms bigint, p_attempts integer,
    p_policy text, p_now timestamptz, p_channel text
)
RETURNS TABLE (
    id bigint, queue text, sequence bigint, scheduled_at timestamptz, inserted_at timestamptz,
    wake boolean, notified bigint
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
    -- NULL: "now", kept monotonic per queue like the batch's
    v_timed timestamptz := COALESCE(p_at, v_now + p_delay_ms * interval '1 millisecond');
    v_before boolean;
    v_sequence bigint;
    v_enqueued timestamptz;
    v_ready boolean;
BEGIN
    -- whether the queue could be claimed before this creation
    SELECT q.ready_at <= v_now AND (q.locked_until IS NULL OR q.locked_until <= v_now)
    INTO v_before
    FROM queuetopia_queues q
    WHERE q.scope = p_scope AND q.queue = p_queue;

    INSERT INTO queuetopia_queues AS q (scope, queue, next_sequence, last_enqueued_at, ready_at)
    VALUES (
        p_scope, p_queue, 1,
        CASE WHEN v_timed IS NULL THEN v_now END,
        COALESCE(v_timed, v_now)
    )
    ON CONFLICT (scope, queue) DO UPDATE SET
        next_sequence = q.next_sequence + 1,
        last_enqueued_at = GREATEST(q.last_enqueued_at, EXCLUDED.last_enqueued_at),
        -- never later than before, never before a live lease
        ready_at = GREATEST(LEAST(q.ready_at, EXCLUDED.ready_at), q.locked_until)
    RETURNING q.next_sequence, q.last_enqueued_at,
        q.ready_at <= v_now AND (q.locked_until IS NULL OR q.locked_until <= v_now)
            AND q.paused_at IS NULL
    INTO v_sequence, v_enqueued, v_ready;

    wake := v_ready AND v_before IS NOT TRUE;
    notified := 0;
    IF wake AND p_channel IS NOT NULL THEN
        PERFORM pg_notify(p_channel, p_scope);
        notified := 1;
    END IF;

    INSERT INTO queuetopia_jobs AS j (
        scope, queue, action, params, sequence, scheduled_at,
        timeout_ms, max_backoff_ms, max_attempts, on_exhausted, inserted_at, updated_at
    )
    VALUES (
        p_scope, p_queue, p_action, p_params::jsonb, v_sequence,
        COALESCE(v_timed, v_enqueued), p_timeout_ms, p_backoff_ms, p_attempts, p_policy,
        v_now, v_now
    )
    RETURNING j.id, j.queue, j.sequence, j.scheduled_at, j.inserted_at
    INTO id, queue, sequence, scheduled_at, inserted_at;
    RETURN NEXT;
END
$fn$;
