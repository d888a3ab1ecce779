-- An operator's pause of a queue: no attempt of it starts while it is set.
ALTER TABLE queuetopia_queues ADD COLUMN paused_at INTEGER;
ALTER TABLE queuetopia_queues ADD COLUMN paused_by TEXT;

-- Claiming reads only the queues whose time has come and that are not paused.
DROP INDEX queuetopia_queues_ready;
CREATE INDEX queuetopia_queues_ready ON queuetopia_queues (scope, ready_at)
    WHERE ready_at IS NOT NULL AND paused_at IS NULL;
