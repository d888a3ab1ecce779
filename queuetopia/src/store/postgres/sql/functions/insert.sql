-- Creates jobs, many at once, in one statement. A server-side function so
-- that it is planned once per session with a generic plan: a statement sent
-- by the client may be planned anew for every creation (custom plans),
-- which costs more than the creation itself. The parameters only pick rows.
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
CREATE OR REPLACE FUNCTION queuetopia_insert(
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
SET enable_bitmapscan = off
-- The tables the migration's search path found, whatever the caller's
-- (see check_job.sql).
SET search_path FROM CURRENT
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
                AND (locked_until IS NULL OR locked_until <= COALESCE($11::timestamptz, now()))
                AND paused_at IS NULL AS ready
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
