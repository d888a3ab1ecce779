DROP TABLE queuetopia_queues;
DROP TABLE queuetopia_jobs;
