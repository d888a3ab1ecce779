-- Whether the migrations table exists (in the search path, or the schema).
SELECT to_regclass('queuetopia_migrations') IS NOT NULL
