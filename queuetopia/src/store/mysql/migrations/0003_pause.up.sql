-- An operator's pause of a queue: no attempt of it starts while it is set.
-- Claiming reads only the queues whose time has come and that are not
-- paused: MySQL has no partial indexes, so the pause comes first in the
-- index (IS NULL is an equality to it).
ALTER TABLE queuetopia_queues
    ADD COLUMN paused_at DATETIME(6) NULL,
    ADD COLUMN paused_by VARBINARY(255) NULL,
    DROP KEY queuetopia_queues_ready,
    ADD KEY queuetopia_queues_ready (scope, paused_at, ready_at);
