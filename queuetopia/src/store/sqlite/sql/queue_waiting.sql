-- Whether a queue of the scope other than ?2 is waiting for its turn now.
-- ?1 scope, ?2 queue, ?3 now.
SELECT EXISTS (
    SELECT 1 FROM queuetopia_queues
    WHERE scope = ?1 AND queue <> ?2
      AND ready_at <= ?3
      AND (locked_until IS NULL OR locked_until <= ?3)
)
