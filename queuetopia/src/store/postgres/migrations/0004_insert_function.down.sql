DROP FUNCTION queuetopia_insert(
    text, text[], text[], text[], timestamptz[], bigint[], bigint[], bigint[], integer[],
    text[], timestamptz, text
);
ALTER FUNCTION queuetopia_refresh(text, text, timestamptz, boolean, boolean)
    RESET enable_seqscan;
ALTER FUNCTION queuetopia_finish(
    text, text, text, bigint, bigint, integer, timestamptz,
    boolean, text, bigint, boolean, boolean, bigint, bigint, bigint, bigint, boolean
) RESET enable_seqscan;
ALTER FUNCTION queuetopia_finish_batch(
    text, text, timestamptz, text[], bigint[], bigint[], integer[], boolean[], text[],
    bigint[], boolean[], boolean[], bigint, bigint, bigint, bigint, boolean
) RESET enable_seqscan;
-- The claim stays as migration 4 left it (same signature, same results):
-- its running-job lookup written so that no plan reads every open job, and
-- no full reads.
