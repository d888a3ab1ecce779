DROP FUNCTION queuetopia_insert_one(
    text, text, text, text, timestamptz, bigint, bigint, bigint, integer, text, timestamptz, text
);
