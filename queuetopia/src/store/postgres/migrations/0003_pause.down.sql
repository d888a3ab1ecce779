-- The index goes through its table (see the up migration).
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
    WHERE ready_at IS NOT NULL;
ALTER TABLE queuetopia_queues DROP COLUMN paused_by, DROP COLUMN paused_at;
