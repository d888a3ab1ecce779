DROP FUNCTION queuetopia_insert(
    text, text[], text[], text[], timestamptz[], bigint[], bigint[], bigint[], integer[],
    text[], timestamptz, text
);
