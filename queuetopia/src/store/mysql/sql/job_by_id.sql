SELECT * FROM queuetopia_jobs WHERE id = ?
