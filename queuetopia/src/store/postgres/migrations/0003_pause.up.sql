-- An operator's pause of a queue: no attempt of it starts while it is set.
ALTER TABLE queuetopia_queues ADD COLUMN paused_at TIMESTAMPTZ, ADD COLUMN paused_by TEXT;

-- Claiming reads only the queues whose time has come and that are not
-- paused. The old index goes through its table: an index name carries no
-- schema, and another placement's index of the same name may come first in
-- the search path.
DO $$
DECLARE
    v_index regclass;
BEGIN
    SELECT i.indexrelid::regclass INTO v_index
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE i.indrelid = 'queuetopia_queues'::regclass AND c.relname = 'queuetopia_queues_ready';
    IF v_index IS NOT NULL THEN
        EXECUTE format('DROP INDEX %s', v_index);
    END IF;
END
$$;
CREATE INDEX queuetopia_queues_ready ON queuetopia_queues (scope, ready_at)
    WHERE ready_at IS NOT NULL AND paused_at IS NULL;
