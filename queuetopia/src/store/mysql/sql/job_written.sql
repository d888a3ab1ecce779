-- After results are written, under their queues' locks: the jobs as written
-- (role 'written'), then each queue's head (role 'head': job_head_after.sql
-- once per queue, or job_head_handing_on.sql for a single result whose lock
-- may go straight to its head), in one read. A batch repeats the id's bind,
-- one per job (see `Repeated`). Binds: the jobs' ids.
SELECT 'written' AS role, j.*, 0 AS others
FROM queuetopia_jobs j
WHERE j.id IN (?)
