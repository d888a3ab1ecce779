DROP TABLE IF EXISTS queuetopia_audit;
