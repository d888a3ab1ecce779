#!/usr/bin/env bash
# The floor under PostgreSQL's targets: the rows a job must write, written as
# bare statements (prepared, the whole transaction sent in one pipeline, so
# one round trip and one commit, no reads, no function, no scheduler), beside
# the one-row UPDATE commit rate the targets are held against, measured by
# the same pgbench in the same run. An implementation that writes these rows
# cannot beat these rates: on top of them it must still find each queue's
# head, check its lock and hand the job to a scheduler. Where a target lies
# above its floor, no work on the job path can meet it on that machine.
#
#   bench/floor.sh [seconds per figure, default 5] [rounds, default 2]
#
# Connects with libpq's environment (default: PGHOST=127.0.0.1,
# PGUSER=postgres, PGDATABASE=test). Needs Queuetopia's tables (the
# benchmark and the test suite create them) and pgbench (package
# postgresql-contrib, or postgresql-client on Debian). Writes in a scope of
# its own and deletes it at the end.
set -euo pipefail
secs=${1:-5}
rounds=${2:-2}
export PGHOST=${PGHOST:-127.0.0.1} PGUSER=${PGUSER:-postgres} PGDATABASE=${PGDATABASE:-test}
scope="floor-$$"
limit_table="queuetopia_floor_limit_$$"
dir=$(mktemp -d)
cleanup() {
  psql -qX -c "DELETE FROM queuetopia_jobs WHERE scope = '$scope'" \
    -c "DELETE FROM queuetopia_queues WHERE scope = '$scope'" \
    -c "DROP TABLE IF EXISTS $limit_table" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

queues=200 per_queue=500
psql -qX -v ON_ERROR_STOP=1 >/dev/null <<SQL
CREATE TABLE $limit_table (id BIGINT PRIMARY KEY, n BIGINT NOT NULL);
INSERT INTO $limit_table SELECT id, 0 FROM generate_series(1, 10) id;
INSERT INTO queuetopia_queues (scope, queue, next_sequence, ready_at)
SELECT '$scope', 'q' || i, $per_queue, now() FROM generate_series(0, $queues - 1) i;
INSERT INTO queuetopia_jobs (scope, queue, action, params, sequence, scheduled_at,
    timeout_ms, max_backoff_ms, max_attempts, inserted_at, updated_at)
SELECT '$scope', 'q' || i, 'work', '{}', k, now(), 60000, 60000, 20, now(), now()
FROM generate_series(0, $queues - 1) i, generate_series(1, $per_queue) k;
VACUUM ANALYZE queuetopia_jobs;
VACUUM ANALYZE queuetopia_queues;
VACUUM ANALYZE $limit_table;
SQL
read -r lo hi < <(psql -qXAt -F ' ' -c "SELECT min(id), max(id) FROM queuetopia_jobs WHERE scope = '$scope'")

# The limit: one-row UPDATE transactions, each client on its own row.
cat >"$dir/limit.sql" <<SQL
UPDATE $limit_table SET n = n + 1 WHERE id = :client_id + 1;
SQL

# A job of a queue draining alone: its result, its queue's lock handed to
# the next job (the lease renewed), the next job's attempt counted.
cat >"$dir/serial.sql" <<SQL
\set q random(0, $queues - 1)
\set j random(:lo, :hi - 1)
\startpipeline
BEGIN;
UPDATE queuetopia_jobs SET done_at = now(), updated_at = now() WHERE id = :j;
UPDATE queuetopia_queues SET locked_until = now() + interval '61 seconds', lock_token = :j,
    running_job_id = :j + 1, ready_at = now() + interval '61 seconds'
WHERE scope = :scope AND queue = 'q' || :q;
UPDATE queuetopia_jobs SET attempts = attempts + 1, attempted_at = now(), attempted_by = 'floor',
    updated_at = now() WHERE id = :j + 1;
COMMIT;
\endpipeline
SQL

# A batch of n results among many queues (fanout): n results and their
# queues released, n other queues locked and their heads' attempts counted,
# one statement per step for the whole batch. Each client writes in its own
# share of the queues and jobs, as two writers of one node would. Ten slots
# (fanout's max_concurrent_jobs) hold ten results at most: one writer with
# ten per commit, or two with five each; two writers of ten each need
# twenty slots.
batch() {
  local n=$1 ids='' next='' queues_done='' queues_next='' i
  for ((i = 0; i < n; i++)); do
    ids+="${ids:+, }:j + $i"
    next+="${next:+, }:j + $((n + i))"
    queues_done+="${queues_done:+, }'q' || (:q + $i)"
    queues_next+="${queues_next:+, }'q' || (:q + $((n + i)))"
  done
  cat <<SQL
\set share_q $queues / :clients
\set share_j (:hi - :lo) / :clients
\set q :client_id * :share_q + random(0, :share_q - $((2 * n)))
\set j :lo + :client_id * :share_j + random(0, :share_j - $((2 * n)))
\startpipeline
BEGIN;
UPDATE queuetopia_jobs SET done_at = now(), updated_at = now() WHERE id IN ($ids);
UPDATE queuetopia_queues SET locked_by = NULL, locked_until = NULL, lock_token = NULL,
    running_job_id = NULL, ready_at = now()
WHERE scope = :scope AND queue IN ($queues_done);
UPDATE queuetopia_jobs SET attempts = attempts + 1, attempted_at = now(), attempted_by = 'floor',
    updated_at = now() WHERE id IN ($next);
UPDATE queuetopia_queues SET locked_by = 'floor', locked_until = now() + interval '61 seconds',
    lock_token = :j, running_job_id = :j, ready_at = now() + interval '61 seconds'
WHERE scope = :scope AND queue IN ($queues_next);
COMMIT;
\endpipeline
SQL
}
batch 5 >"$dir/batch5.sql"
batch 10 >"$dir/batch10.sql"

# A single creation: its queue's row upserted (its sequence), the job's row.
cat >"$dir/create.sql" <<SQL
\set q random(0, $queues - 1)
\startpipeline
BEGIN;
INSERT INTO queuetopia_queues AS q (scope, queue, next_sequence, last_enqueued_at, ready_at)
VALUES (:scope, 'q' || :q, 1, now(), now())
ON CONFLICT (scope, queue) DO UPDATE SET next_sequence = q.next_sequence + 1,
    last_enqueued_at = EXCLUDED.last_enqueued_at;
INSERT INTO queuetopia_jobs (scope, queue, action, params, sequence, scheduled_at,
    timeout_ms, max_backoff_ms, max_attempts, inserted_at, updated_at)
VALUES (:scope, 'q' || :q, 'work', '{}', -1, now(), 60000, 60000, 20, now(), now());
COMMIT;
\endpipeline
SQL

# Transactions per second of a script by c clients.
tps() {
  local out
  out=$(pgbench -n -M prepared -T "$secs" -c "$2" -j "$(($2 < 2 ? $2 : 2))" \
    -D scope="$scope" -D lo="$lo" -D hi="$hi" -D clients="$2" -f "$dir/$1.sql" 2>&1) || {
    echo "floor: pgbench failed on $1.sql:" >&2
    echo "$out" >&2
    return 1
  }
  awk '/^tps/ { print $3 }' <<<"$out"
}

# Every figure is measured in two rounds (by default), one after the other,
# and the best is kept: a floor is the best the machine did, and the
# development machine's rates drift within minutes (one 3 s serial figure
# came out at a third of the others). The limits are measured in the same
# rounds.
calc() { awk "BEGIN { print ($1) }"; }
best() { calc "$1 > $2 ? $1 : $2"; }
declare -A fig
for ((round = 1; round <= rounds; round++)); do
  for f in limit:1 limit:10 serial:1 batch5:1 batch5:2 batch10:1 batch10:2 create:1; do
    v=$(tps "${f%:*}" "${f#*:}") || exit 1
    fig[$f]=$(best "${fig[$f]:-0}" "$v")
  done
done
limit_1=${fig[limit:1]} limit_10=${fig[limit:10]}
row() { # name, jobs/s, held against (name, rate), target ratio
  printf '  %-34s %9.0f  %-9s %9.0f %6.2f %6s\n' "$1" "$2" "$3" "$4" "$(calc "$2 / $4")" "$5"
}
echo "bare row writes on postgres (best of $rounds round(s) of $secs s each, pgbench, prepared, one pipeline per transaction)"
printf '  limit_1  %9.0f one-row UPDATE commits/s\n  limit_10 %9.0f\n' "$limit_1" "$limit_10"
printf '  %-34s %9s  %-9s %9s %6s %6s\n' "writes" "jobs/s" "against" "its /s" "ratio" "target"
row "serial: 3 rows, 1 job per commit" "${fig[serial:1]}" limit_1 "$limit_1" 0.8
row "fanout: 4 rows, 5 jobs per commit" "$(calc "${fig[batch5:1]} * 5")" limit_10 "$limit_10" 1.5
row "fanout: 5 per commit, 2 writers" "$(calc "${fig[batch5:2]} * 5")" limit_10 "$limit_10" 1.5
row "fanout: 10 jobs per commit" "$(calc "${fig[batch10:1]} * 10")" limit_10 "$limit_10" 1.5
row "fanout: 10 per commit, 2 writers" "$(calc "${fig[batch10:2]} * 10")" limit_10 "$limit_10" 1.5
row "create: 2 rows, 1 job per commit" "${fig[create:1]}" limit_1 "$limit_1" 0.8
