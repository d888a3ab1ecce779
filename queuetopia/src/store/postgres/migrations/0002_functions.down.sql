DROP FUNCTION queuetopia_finish;
DROP FUNCTION queuetopia_claim;
DROP FUNCTION queuetopia_refresh;
