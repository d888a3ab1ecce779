DROP TABLE queuetopia_audit;
