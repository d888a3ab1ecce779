DROP FUNCTION queuetopia_insert(
    text, text[], text[], text[], timestamptz[], bigint[], bigint[], bigint[], integer[],
    text[], timestamptz, text
);
-- The claim stays as migration 4 left it: same signature, same results,
-- only its running-job lookup written so that no plan reads every open job.
