-- Creating jobs returns only what the server decided (id, sequence, when
-- it runs, when it was stored): the caller has the rest, and decoding every
-- column of a thousand rows, params included, cost the client as much as a
-- third of a batch's time. A single job has a function of its own, without
-- the set machinery a batch needs (arrays, grouping, window): a creation is
-- the call made most often.
--
-- The batch: as in migration 4, but for what it returns. Returns a row per
-- job (with its queue, to pair it with the job asked for: inside a queue,
-- sequence numbers follow the order asked for), whether some queue it went
-- to became claimable (wake) and how many notifications were sent.
DROP FUNCTION queuetopia_insert(
    text, text[], text[], text[], timestamptz[], bigint[], bigint[], bigint[], integer[],
    text[], timestamptz, text
);
CREATE FUNCTION queuetopia_insert(
    text, text[], text[], text[], timestamptz[], bigint[], bigint[], bigint[], integer[],
    text[], timestamptz, text
)
RETURNS TABLE (
    id bigint, queue text, sequence bigint, scheduled_at timestamptz, inserted_at timestamptz,
    wake boolean, notified bigint
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
    RETURNING id, queue, sequence, scheduled_at, inserted_at
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
        inserted.id, inserted.queue, inserted.sequence, inserted.scheduled_at,
        inserted.inserted_at,
        (SELECT yes FROM became_claimable) AS wake,
        (SELECT count(*) FROM notified) AS notified
    FROM inserted;
END
$fn$;

-- One job: the same steps as the batch, as statements. $1 scope, $2 queue,
-- $3 action, $4 params as JSON text, $5 scheduled at, $6 delay in ms, $7
-- timeout in ms, $8 longest backoff in ms, $9 attempts, $10 exhaustion
-- policy, $11 the pinned clock (or NULL), $12 the channel (or NULL).
CREATE FUNCTION queuetopia_insert_one(
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
