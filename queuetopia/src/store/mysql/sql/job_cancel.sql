-- An operator cancels a job that never ran: it leaves its queue, the rest
-- keep their order. Binds: scope, id.
DELETE FROM queuetopia_jobs
WHERE scope = ? AND id = ? AND attempts = 0 AND done_at IS NULL AND given_up_at IS NULL
