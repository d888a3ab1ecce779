-- Jobs live in one table, shared by every scope. Times are DATETIME(6) in
-- UTC. Names are VARBINARY: they compare byte for byte, trailing spaces
-- included (MySQL's _bin collations would pad them: "a" = "a ").
CREATE TABLE queuetopia_jobs (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    scope VARBINARY(255) NOT NULL,
    queue VARBINARY(255) NOT NULL,
    action VARBINARY(255) NOT NULL,
    params LONGTEXT NOT NULL,
    sequence BIGINT NOT NULL,
    scheduled_at DATETIME(6) NOT NULL,
    timeout_ms BIGINT NOT NULL,
    max_backoff_ms BIGINT NOT NULL,
    max_attempts INT NOT NULL,
    on_exhausted VARCHAR(8) NULL,
    attempts INT NOT NULL DEFAULT 0,
    attempted_at DATETIME(6) NULL,
    attempted_by VARBINARY(255) NULL,
    next_attempt_at DATETIME(6) NULL,
    done_at DATETIME(6) NULL,
    given_up_at DATETIME(6) NULL,
    error LONGTEXT NULL,
    inserted_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    CONSTRAINT queuetopia_jobs_names CHECK (
        LENGTH(scope) BETWEEN 1 AND 255 AND LENGTH(queue) BETWEEN 1 AND 255
        AND LENGTH(action) BETWEEN 1 AND 255
    ),
    -- An object (the library checks the rest: JSON_VALID stops at 32 levels
    -- on MariaDB, params may nest deeper).
    CONSTRAINT queuetopia_jobs_params CHECK (LEFT(params, 1) = '{'),
    CONSTRAINT queuetopia_jobs_limits CHECK (
        timeout_ms > 0 AND max_backoff_ms >= 0 AND max_attempts > 0
        AND (on_exhausted IS NULL OR on_exhausted IN ('skip', 'hold'))
    ),
    -- The head of a queue: its first job neither done nor given up. MySQL has
    -- no partial indexes: the two IS NULL columns come first, so the head is
    -- one index lookup however many done jobs the queue has.
    KEY queuetopia_jobs_open (scope, queue, done_at, given_up_at, scheduled_at, sequence),
    -- Retention deletes old done jobs.
    KEY queuetopia_jobs_done (scope, done_at),
    -- Listing pages through a scope's jobs by id.
    KEY queuetopia_jobs_scope_id (scope, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- One row per queue: its sequence counter, its lock, and when it is next ready.
CREATE TABLE queuetopia_queues (
    scope VARBINARY(255) NOT NULL,
    queue VARBINARY(255) NOT NULL,
    next_sequence BIGINT NOT NULL,
    last_enqueued_at DATETIME(6) NULL,
    ready_at DATETIME(6) NULL,
    locked_by VARBINARY(255) NULL,
    locked_until DATETIME(6) NULL,
    lock_token BIGINT NULL,
    running_job_id BIGINT NULL,
    blocked_since DATETIME(6) NULL,
    PRIMARY KEY (scope, queue),
    -- Claiming reads only the queues whose time has come.
    KEY queuetopia_queues_ready (scope, ready_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
