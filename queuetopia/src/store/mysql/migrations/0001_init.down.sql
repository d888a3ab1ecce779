DROP TABLE IF EXISTS queuetopia_queues;
DROP TABLE IF EXISTS queuetopia_jobs;
