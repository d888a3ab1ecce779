-- An operator cancels a job that never ran: it leaves its queue, the rest
-- keep their order. $1 scope, $2 id.
DELETE FROM queuetopia_jobs
WHERE scope = $1 AND id = $2 AND attempts = 0 AND done_at IS NULL AND given_up_at IS NULL
RETURNING *
