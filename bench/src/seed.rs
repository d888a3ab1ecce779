//! Rows written behind the library's back: done jobs for the `wide`
//! scenario, a count of open jobs for the `nodes` scenario, and the cleanup
//! after each scenario. Scope names are the benchmark's own (no quoting
//! needed); the tables are in their default placement.

use queuetopia::Db;

use crate::limit::execute;
use queuetopia::Backend;

/// `n` numbers 0..n as a derived table `g(k)`, in SQL every backend takes.
fn numbers(n: u64) -> String {
    let digit = "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 \
                 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 \
                 UNION ALL SELECT 8 UNION ALL SELECT 9)";
    let places = (n.max(2) - 1).ilog10() as usize + 1;
    let from: Vec<String> = (0..places).map(|p| format!("{digit} d{p}")).collect();
    let sum: Vec<String> = (0..places)
        .map(|p| format!("d{p}.d * {}", 10u64.pow(p as u32)))
        .collect();
    format!(
        "(SELECT {} AS k FROM {}) g WHERE k < {n}",
        sum.join(" + "),
        from.join(" CROSS JOIN ")
    )
}

/// In the backend's SQL: the queue name `'q' || (k % queues)` and the
/// current time as its jobs table stores it.
fn queue_and_now(db: &Db, queues: u64) -> Result<(String, &'static str), String> {
    match db.backend() {
        Backend::Postgres => Ok((format!("'q' || (k % {queues})"), "now()")),
        Backend::MySql => Ok((format!("CONCAT('q', k % {queues})"), "UTC_TIMESTAMP(6)")),
        Backend::Sqlite => Ok((
            format!("'q' || (k % {queues})"),
            "CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)",
        )),
        other => Err(format!("no seeding for {other:?}")),
    }
}

/// Writes `n` rows with `insert(from, count)` statements (`INSERT … SELECT
/// … FROM {numbers(count)}`, rows `from..from + count`) of at most `slice`
/// rows each, each its own commit.
async fn in_slices(
    db: &Db,
    n: u64,
    slice: u64,
    insert: impl Fn(u64, String) -> String,
) -> Result<(), String> {
    let mut from = 0;
    while from < n {
        let count = slice.min(n - from);
        execute(db, insert(from, numbers(count))).await?;
        from += count;
    }
    Ok(())
}

/// Writes `n` jobs already done into `queues` queues of `scope`.
pub(crate) async fn done_jobs(db: &Db, scope: &str, n: u64, queues: u64) -> Result<(), String> {
    let (queue, now) = queue_and_now(db, queues)?;
    // In slices, so that no statement grows too big for MySQL's undo log.
    in_slices(db, n, 50_000, |from, numbers| {
        format!(
            "INSERT INTO queuetopia_jobs (scope, queue, action, params, sequence, scheduled_at, \
             timeout_ms, max_backoff_ms, max_attempts, attempts, attempted_at, attempted_by, \
             done_at, inserted_at, updated_at) \
             SELECT '{scope}', {queue}, 'old', '{{}}', -1 - k - {from}, {now}, 60000, 60000, 1, 1, \
             {now}, 'seed', {now}, {now}, {now} FROM {numbers}"
        )
    })
    .await
}

/// The jobs table's own rate of batched creations, the ceiling of
/// `enqueue_batched`: `n` open jobs of `scope` in `queues` queues, written
/// by plain `INSERT … SELECT` statements of `batch` rows that the server
/// makes itself (nothing to send, no queue rows, no sequence numbers to
/// hand out), each statement its own commit. Returns rows per second; the
/// rows stay until the scope is forgotten.
pub(crate) async fn bare_inserts(
    db: &Db,
    scope: &str,
    n: u64,
    queues: u64,
    batch: u64,
) -> Result<f64, String> {
    let (queue, now) = queue_and_now(db, queues)?;
    let started = std::time::Instant::now();
    in_slices(db, n, batch, |from, numbers| {
        format!(
            "INSERT INTO queuetopia_jobs (scope, queue, action, params, sequence, scheduled_at, \
             timeout_ms, max_backoff_ms, max_attempts, inserted_at, updated_at) \
             SELECT '{scope}', {queue}, 'work', '{{}}', k + {from}, {now}, 60000, 60000, 20, \
             {now}, {now} FROM {numbers}"
        )
    })
    .await?;
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// Deletes every row of `scope`.
pub(crate) async fn forget(db: &Db, scope: &str) -> Result<(), String> {
    execute(
        db,
        format!("DELETE FROM queuetopia_jobs WHERE scope = '{scope}'"),
    )
    .await?;
    execute(
        db,
        format!("DELETE FROM queuetopia_queues WHERE scope = '{scope}'"),
    )
    .await?;
    Ok(())
}

/// Leaves the tables as a server that vacuums them would: on PostgreSQL,
/// vacuums and analyzes them, so that each scenario starts without the dead
/// rows of the ones before (or of anything else, when autovacuum is off, as
/// on this project's CI machine). MariaDB purges old row versions by itself,
/// and SQLite keeps none.
pub(crate) async fn settle(db: &Db) -> Result<(), String> {
    if db.backend() == Backend::Postgres {
        execute(
            db,
            "VACUUM (ANALYZE) queuetopia_jobs, queuetopia_queues".to_owned(),
        )
        .await?;
    }
    Ok(())
}
