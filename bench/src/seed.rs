//! Rows written behind the library's back: done jobs for the `wide`
//! scenario, a count of open jobs for the `nodes` scenario, and the cleanup
//! after each scenario. Scope names are the benchmark's own (no quoting
//! needed); the tables are in their default placement.

use queuetopia::Db;

use crate::limit::{execute, on_pool};
use queuetopia::Backend;

/// `n` numbers 0..n as a derived table `g(k)`, in SQL every backend takes.
fn numbers(n: u64) -> String {
    let digit = "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 \
                 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 \
                 UNION ALL SELECT 8 UNION ALL SELECT 9)";
    let places = n.max(2).ilog10() as usize + 1;
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

/// Writes `n` jobs already done into `queues` queues of `scope`.
pub(crate) async fn done_jobs(db: &Db, scope: &str, n: u64, queues: u64) -> Result<(), String> {
    let (queue, now) = match db.backend() {
        Backend::Postgres => (format!("'q' || (k % {queues})"), "now()".to_owned()),
        Backend::MySql => (
            format!("CONCAT('q', k % {queues})"),
            "UTC_TIMESTAMP(6)".to_owned(),
        ),
        Backend::Sqlite => (
            format!("'q' || (k % {queues})"),
            "CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)".to_owned(),
        ),
        other => return Err(format!("no seeding for {other:?}")),
    };
    // In slices, so that no statement grows too big for MySQL's undo log.
    let slice = 50_000;
    let mut from = 0;
    while from < n {
        let count = slice.min(n - from);
        execute(
            db,
            format!(
                "INSERT INTO queuetopia_jobs (scope, queue, action, params, sequence, scheduled_at, \
                 timeout_ms, max_backoff_ms, max_attempts, attempts, attempted_at, attempted_by, \
                 done_at, inserted_at, updated_at) \
                 SELECT '{scope}', {queue}, 'old', '{{}}', -1 - k - {from}, {now}, 60000, 60000, 1, 1, \
                 {now}, 'seed', {now}, {now}, {now} FROM {}",
                numbers(count)
            ),
        )
        .await?;
        from += count;
    }
    Ok(())
}

/// Jobs of `scope` neither done nor given up.
pub(crate) async fn open_jobs(db: &Db, scope: &str) -> Result<i64, String> {
    let sql = format!(
        "SELECT COUNT(*) FROM queuetopia_jobs WHERE scope = '{scope}' \
         AND done_at IS NULL AND given_up_at IS NULL"
    );
    on_pool!(db, pool => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
        .fetch_one(pool)
        .await
        .map_err(|e| e.to_string()))
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
