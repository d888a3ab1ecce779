-- Jobs live in one table, shared by every scope. Its rules (names of 1 to
-- 255 bytes, params an object, positive timeout and attempts, ...) are kept
-- by a trigger, not CHECK constraints: see sql/functions/job_ok.sql. The
-- functions, and that trigger, are applied after the migrations by every
-- run of `migrate` (sql/functions/).
CREATE TABLE queuetopia_jobs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope TEXT NOT NULL,
    queue TEXT NOT NULL,
    action TEXT NOT NULL,
    params JSONB NOT NULL,
    sequence BIGINT NOT NULL,
    scheduled_at TIMESTAMPTZ NOT NULL,
    timeout_ms BIGINT NOT NULL,
    max_backoff_ms BIGINT NOT NULL,
    max_attempts INTEGER NOT NULL,
    on_exhausted TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    attempted_at TIMESTAMPTZ,
    attempted_by TEXT,
    next_attempt_at TIMESTAMPTZ,
    done_at TIMESTAMPTZ,
    given_up_at TIMESTAMPTZ,
    error TEXT,
    inserted_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- The head of a queue: its first job neither done nor given up.
CREATE INDEX queuetopia_jobs_open ON queuetopia_jobs (scope, queue, scheduled_at, sequence)
    WHERE done_at IS NULL AND given_up_at IS NULL;
-- Retention deletes old done jobs.
CREATE INDEX queuetopia_jobs_done ON queuetopia_jobs (scope, done_at)
    WHERE done_at IS NOT NULL;
-- Listing pages through a scope's jobs by id.
CREATE INDEX queuetopia_jobs_scope_id ON queuetopia_jobs (scope, id);

-- One row per queue: its sequence counter, its lock, and when it is next ready.
CREATE TABLE queuetopia_queues (
    scope TEXT NOT NULL,
    queue TEXT NOT NULL,
    next_sequence BIGINT NOT NULL,
    last_enqueued_at TIMESTAMPTZ,
    ready_at TIMESTAMPTZ,
    locked_by TEXT,
    locked_until TIMESTAMPTZ,
    lock_token BIGINT,
    running_job_id BIGINT,
    blocked_since TIMESTAMPTZ,
    PRIMARY KEY (scope, queue)
);

-- Claiming reads only the queues whose time has come.
CREATE INDEX queuetopia_queues_ready ON queuetopia_queues (scope, ready_at)
    WHERE ready_at IS NOT NULL;
