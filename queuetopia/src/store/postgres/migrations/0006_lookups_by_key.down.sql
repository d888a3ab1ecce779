-- The claim and the batch of results stay as migration 6 left them (same
-- signatures, same results): their lookups written so that no plan reads
-- every queue of a scope.
ALTER FUNCTION queuetopia_finish(
    text, text, text, bigint, bigint, integer, timestamptz,
    boolean, text, bigint, boolean, boolean, bigint, bigint, bigint, bigint, boolean
) RESET enable_bitmapscan;
ALTER FUNCTION queuetopia_refresh(text, text, timestamptz, boolean, boolean)
    RESET enable_bitmapscan;
ALTER FUNCTION queuetopia_insert(
    text, text[], text[], text[], timestamptz[], bigint[], bigint[], bigint[], integer[],
    text[], timestamptz, text
) RESET enable_bitmapscan;
ALTER FUNCTION queuetopia_insert_one(
    text, text, text, text, timestamptz, bigint, bigint, bigint, integer, text, timestamptz, text
) RESET enable_bitmapscan;
