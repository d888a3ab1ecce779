-- Before a result is written: is the queue's lock still the one this attempt
-- was claimed under? ?1 scope, ?2 queue, ?3 node, ?4 job id, ?5 lock token.
SELECT 1
FROM queuetopia_queues
WHERE scope = ?1 AND queue = ?2
  AND locked_by = ?3 AND running_job_id = ?4 AND lock_token = ?5
