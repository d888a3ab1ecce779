DROP INDEX queuetopia_queues_ready;
CREATE INDEX queuetopia_queues_ready ON queuetopia_queues (scope, ready_at)
    WHERE ready_at IS NOT NULL;
ALTER TABLE queuetopia_queues DROP COLUMN paused_by;
ALTER TABLE queuetopia_queues DROP COLUMN paused_at;
