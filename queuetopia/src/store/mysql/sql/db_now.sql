-- The database's clock, in UTC.
SELECT UTC_TIMESTAMP(6)
