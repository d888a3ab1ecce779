ALTER TABLE queuetopia_queues
    DROP KEY queuetopia_queues_ready,
    ADD KEY queuetopia_queues_ready (scope, ready_at),
    DROP COLUMN paused_by,
    DROP COLUMN paused_at;
