//! The database's own limit: how many one-row UPDATE transactions one
//! connection, and N connections together (each on its own row), commit per
//! second, on the pool Queuetopia itself uses.

use std::time::{Duration, Instant};

use queuetopia::Db;

/// Runs `$body` with `$pool` bound to the database's sqlx pool, whatever the
/// backend (each arm is the same code on that backend's types).
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        if let Some($pool) = $db.pg_pool() {
            $body
        } else if let Some($pool) = $db.mysql_pool() {
            $body
        } else if let Some($pool) = $db.sqlite_pool() {
            $body
        } else {
            Err("no pool for this backend".to_owned())
        }
    };
}

/// Runs one statement, with no parameters.
pub(crate) async fn execute(db: &Db, sql: String) -> Result<u64, String> {
    on_pool!(db, pool => sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
        .map_err(|e| e.to_string()))
}

/// Commits per second of one-row UPDATE transactions by `connections`
/// connections at once, over `secs` seconds.
pub(crate) async fn commits_per_sec(db: &Db, connections: usize, secs: f64) -> Result<f64, String> {
    let table = table();
    execute(db, format!("DROP TABLE IF EXISTS {table}")).await?;
    execute(
        db,
        format!("CREATE TABLE {table} (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)"),
    )
    .await?;
    let rows: Vec<String> = (1..=connections).map(|id| format!("({id}, 0)")).collect();
    execute(
        db,
        format!("INSERT INTO {table} (id, n) VALUES {}", rows.join(", ")),
    )
    .await?;
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for id in 1..=connections {
        let db = db.clone();
        tasks.spawn(async move { update_loop(&db, id, until).await });
    }
    let mut commits = 0u64;
    while let Some(done) = tasks.join_next().await {
        commits += done.map_err(|e| e.to_string())??;
    }
    let per_sec = commits as f64 / started.elapsed().as_secs_f64();
    execute(db, format!("DROP TABLE {table}")).await?;
    Ok(per_sec)
}

/// This run's own table: runs side by side do not meet.
fn table() -> String {
    format!("queuetopia_bench_limit_{}", std::process::id())
}

/// Updates row `id` on one connection of its own until `until`.
async fn update_loop(db: &Db, id: usize, until: Instant) -> Result<u64, String> {
    let sql = format!("UPDATE {} SET n = n + 1 WHERE id = {id}", table());
    on_pool!(db, pool => {
        let mut conn = pool.acquire().await.map_err(|e| e.to_string())?;
        let mut n = 0u64;
        while Instant::now() < until {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&mut *conn)
                .await
                .map_err(|e| e.to_string())?;
            n += 1;
        }
        Ok(n)
    })
}
