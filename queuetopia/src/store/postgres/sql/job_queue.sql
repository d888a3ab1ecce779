-- The queue of a job of the scope. $1 scope, $2 id.
SELECT queue FROM queuetopia_jobs WHERE scope = $1 AND id = $2
