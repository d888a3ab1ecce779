-- Extends a running attempt's lease, if the lock is still the one it was
-- claimed under. ?1 scope, ?2 queue, ?3 node, ?4 job id, ?5 lock token,
-- ?6 new lease end.
UPDATE queuetopia_queues SET locked_until = ?6, ready_at = ?6
WHERE scope = ?1 AND queue = ?2
  AND locked_by = ?3 AND running_job_id = ?4 AND lock_token = ?5
