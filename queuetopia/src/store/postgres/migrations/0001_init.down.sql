-- The functions first (sql/functions/): one takes a job row, so the table
-- cannot go before it. The triggers go with the table.
DROP FUNCTION IF EXISTS queuetopia_claim;
DROP FUNCTION IF EXISTS queuetopia_finish;
DROP FUNCTION IF EXISTS queuetopia_finish_batch;
DROP FUNCTION IF EXISTS queuetopia_refresh;
DROP FUNCTION IF EXISTS queuetopia_insert;
DROP FUNCTION IF EXISTS queuetopia_insert_one;
DROP FUNCTION IF EXISTS queuetopia_job_ok;
DROP TABLE queuetopia_queues;
DROP TABLE queuetopia_jobs;
DROP FUNCTION IF EXISTS queuetopia_check_job;
