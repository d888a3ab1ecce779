-- Times are microseconds since the Unix epoch (UTC), so that they sort and
-- compare as integers.
CREATE TABLE queuetopia_jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scope TEXT NOT NULL CHECK (length(CAST(scope AS BLOB)) BETWEEN 1 AND 255),
    queue TEXT NOT NULL CHECK (length(CAST(queue AS BLOB)) BETWEEN 1 AND 255),
    action TEXT NOT NULL CHECK (length(CAST(action AS BLOB)) BETWEEN 1 AND 255),
    params TEXT NOT NULL CHECK (json_type(params) = 'object'),
    sequence INTEGER NOT NULL,
    scheduled_at INTEGER NOT NULL,
    timeout_ms INTEGER NOT NULL CHECK (timeout_ms > 0),
    max_backoff_ms INTEGER NOT NULL CHECK (max_backoff_ms >= 0),
    max_attempts INTEGER NOT NULL CHECK (max_attempts > 0),
    on_exhausted TEXT CHECK (on_exhausted IN ('skip', 'hold')),
    attempts INTEGER NOT NULL DEFAULT 0,
    attempted_at INTEGER,
    attempted_by TEXT,
    next_attempt_at INTEGER,
    done_at INTEGER,
    given_up_at INTEGER,
    error TEXT,
    inserted_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
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
    next_sequence INTEGER NOT NULL,
    last_enqueued_at INTEGER,
    ready_at INTEGER,
    locked_by TEXT,
    locked_until INTEGER,
    lock_token INTEGER,
    running_job_id INTEGER,
    blocked_since INTEGER,
    PRIMARY KEY (scope, queue)
) WITHOUT ROWID;

-- Claiming reads only the queues whose time has come.
CREATE INDEX queuetopia_queues_ready ON queuetopia_queues (scope, ready_at)
    WHERE ready_at IS NOT NULL;
