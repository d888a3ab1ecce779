-- Extends a running attempt's lease, if the lock is still the one it was
-- claimed under. Binds: new lease end x2, scope, queue, node, job id, token.
UPDATE queuetopia_queues SET locked_until = ?, ready_at = ?
WHERE scope = ? AND queue = ?
  AND locked_by = ? AND running_job_id = ? AND lock_token = ?
