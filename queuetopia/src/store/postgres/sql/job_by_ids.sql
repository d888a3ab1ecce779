SELECT * FROM queuetopia_jobs WHERE id = ANY($1)
