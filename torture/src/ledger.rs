//! The ledger: one row per execution of a job, written by the nodes, read by
//! the checks. Times are microseconds of this machine's clock, which is also
//! the database's when the database runs here.

use queuetopia::Db;
use sqlx::{AssertSqlSafe, Row as _};

use crate::args::Backend;

/// One execution, as the ledger holds it.
#[derive(Debug, Clone)]
pub(crate) struct Execution {
    pub(crate) job_id: i64,
    pub(crate) attempt: i64,
    pub(crate) queue: String,
    pub(crate) node: String,
    pub(crate) started_at: i64,
    pub(crate) ended_at: Option<i64>,
    pub(crate) outcome: Option<String>,
    /// What the node learned of its result: `done`, `failed` or `refused`.
    pub(crate) recorded: Option<String>,
}

pub(crate) struct Ledger {
    db: Db,
    backend: Backend,
}

/// A value to bind, the same for every backend.
enum Val<'a> {
    Int(i64),
    Text(&'a str),
}

/// Binds `$binds` to the query `$q`.
macro_rules! bind_all {
    ($q:expr, $binds:expr) => {{
        let mut q = $q;
        for b in $binds {
            q = match b {
                Val::Int(i) => q.bind(i),
                Val::Text(t) => q.bind(t.to_owned()),
            };
        }
        q
    }};
}

/// A row of any backend.
enum AnyRow {
    Pg(sqlx::postgres::PgRow),
    My(sqlx::mysql::MySqlRow),
    Lite(sqlx::sqlite::SqliteRow),
}

impl AnyRow {
    fn int(&self, col: &str) -> Result<i64, sqlx::Error> {
        match self {
            AnyRow::Pg(r) => r.try_get(col),
            AnyRow::My(r) => r.try_get(col),
            AnyRow::Lite(r) => r.try_get(col),
        }
    }

    fn opt_int(&self, col: &str) -> Result<Option<i64>, sqlx::Error> {
        match self {
            AnyRow::Pg(r) => r.try_get(col),
            AnyRow::My(r) => r.try_get(col),
            AnyRow::Lite(r) => r.try_get(col),
        }
    }

    fn text(&self, col: &str) -> Result<Option<String>, sqlx::Error> {
        match self {
            AnyRow::Pg(r) => r.try_get(col),
            AnyRow::My(r) => r.try_get(col),
            AnyRow::Lite(r) => r.try_get(col),
        }
    }
}

impl Ledger {
    pub(crate) fn new(db: Db, backend: Backend) -> Ledger {
        Ledger { db, backend }
    }

    /// `?` placeholders become `$n` on PostgreSQL.
    fn sql(&self, text: &str) -> String {
        if self.backend != Backend::Postgres {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len() + 8);
        let mut n = 0;
        for c in text.chars() {
            if c == '?' {
                n += 1;
                out.push_str(&format!("${n}"));
            } else {
                out.push(c);
            }
        }
        out
    }

    pub(crate) async fn create(&self) -> Result<(), sqlx::Error> {
        let id = match self.backend {
            Backend::Postgres => "id BIGSERIAL PRIMARY KEY",
            Backend::MySql => "id BIGINT AUTO_INCREMENT PRIMARY KEY",
            Backend::Sqlite => "id INTEGER PRIMARY KEY",
        };
        // Every write finds its row by (scope, job, attempt).
        // One row per execution: the end of a cancelled one and its start
        // (whose insert may land late) meet in the same row.
        let inline_index = match self.backend {
            Backend::MySql => {
                ",\n                UNIQUE KEY torture_ledger_v3_job (scope, job_id, attempt, node)"
            }
            _ => "",
        };
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS torture_ledger_v3 (
                {id},
                scope VARCHAR(100) NOT NULL,
                job_id BIGINT NOT NULL,
                attempt BIGINT NOT NULL,
                queue VARCHAR(255) NOT NULL,
                node VARCHAR(255) NOT NULL,
                started_at BIGINT NOT NULL,
                ended_at BIGINT,
                outcome VARCHAR(16),
                recorded VARCHAR(16){inline_index}
            )"
        );
        self.run(&ddl, vec![]).await?;
        if inline_index.is_empty() {
            self.run(
                "CREATE UNIQUE INDEX IF NOT EXISTS torture_ledger_v3_job
                 ON torture_ledger_v3 (scope, job_id, attempt, node)",
                vec![],
            )
            .await?;
        }
        Ok(())
    }

    /// Runs a statement; returns how many rows it changed.
    async fn run(&self, sql: &str, binds: Vec<Val<'_>>) -> Result<u64, sqlx::Error> {
        let sql = AssertSqlSafe(self.sql(sql));
        Ok(match self.backend {
            Backend::Postgres => {
                let pool = self.db.pg_pool().expect("postgres");
                bind_all!(sqlx::query(sql), binds)
                    .execute(pool)
                    .await?
                    .rows_affected()
            }
            Backend::MySql => {
                let pool = self.db.mysql_pool().expect("mysql");
                bind_all!(sqlx::query(sql), binds)
                    .execute(pool)
                    .await?
                    .rows_affected()
            }
            Backend::Sqlite => {
                let pool = self.db.sqlite_pool().expect("sqlite");
                bind_all!(sqlx::query(sql), binds)
                    .execute(pool)
                    .await?
                    .rows_affected()
            }
        })
    }

    async fn fetch(&self, sql: &str, binds: Vec<Val<'_>>) -> Result<Vec<AnyRow>, sqlx::Error> {
        let sql = AssertSqlSafe(self.sql(sql));
        Ok(match self.backend {
            Backend::Postgres => {
                let pool = self.db.pg_pool().expect("postgres");
                let rows = bind_all!(sqlx::query(sql), binds).fetch_all(pool).await?;
                rows.into_iter().map(AnyRow::Pg).collect()
            }
            Backend::MySql => {
                let pool = self.db.mysql_pool().expect("mysql");
                let rows = bind_all!(sqlx::query(sql), binds).fetch_all(pool).await?;
                rows.into_iter().map(AnyRow::My).collect()
            }
            Backend::Sqlite => {
                let pool = self.db.sqlite_pool().expect("sqlite");
                let rows = bind_all!(sqlx::query(sql), binds).fetch_all(pool).await?;
                rows.into_iter().map(AnyRow::Lite).collect()
            }
        })
    }

    pub(crate) async fn start(
        &self,
        scope: &str,
        job_id: i64,
        attempt: i64,
        queue: &str,
        node: &str,
        at: i64,
    ) -> Result<(), sqlx::Error> {
        self.run(
            "INSERT INTO torture_ledger_v3 (scope, job_id, attempt, queue, node, started_at)
             VALUES (?, ?, ?, ?, ?, ?)",
            vec![
                Val::Text(scope),
                Val::Int(job_id),
                Val::Int(attempt),
                Val::Text(queue),
                Val::Text(node),
                Val::Int(at),
            ],
        )
        .await
        .map(drop)
    }

    pub(crate) async fn end(
        &self,
        scope: &str,
        job_id: i64,
        attempt: i64,
        node: &str,
        at: i64,
        outcome: &str,
    ) -> Result<u64, sqlx::Error> {
        self.run(
            "UPDATE torture_ledger_v3 SET ended_at = ?, outcome = ?
             WHERE scope = ? AND job_id = ? AND attempt = ? AND node = ?",
            vec![
                Val::Int(at),
                Val::Text(outcome),
                Val::Text(scope),
                Val::Int(job_id),
                Val::Int(attempt),
                Val::Text(node),
            ],
        )
        .await
    }

    /// Ends an execution that was cancelled at `at`, whether or not its
    /// start row is there yet: the start's insert may have been cut off in
    /// flight and land later (it then fails on the unique key), or never.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn cancelled(
        &self,
        scope: &str,
        job_id: i64,
        attempt: i64,
        queue: &str,
        node: &str,
        started_at: i64,
        at: i64,
    ) -> Result<(), sqlx::Error> {
        let upsert = match self.backend {
            Backend::MySql => {
                "ON DUPLICATE KEY UPDATE ended_at = VALUES(ended_at), outcome = VALUES(outcome)"
            }
            _ => {
                "ON CONFLICT (scope, job_id, attempt, node)
                  DO UPDATE SET ended_at = excluded.ended_at, outcome = excluded.outcome"
            }
        };
        self.run(
            &format!(
                "INSERT INTO torture_ledger_v3
                     (scope, job_id, attempt, queue, node, started_at, ended_at, outcome)
                 VALUES (?, ?, ?, ?, ?, ?, ?, 'cancelled')
                 {upsert}"
            ),
            vec![
                Val::Text(scope),
                Val::Int(job_id),
                Val::Int(attempt),
                Val::Text(queue),
                Val::Text(node),
                Val::Int(started_at),
                Val::Int(at),
            ],
        )
        .await
        .map(drop)
    }

    pub(crate) async fn recorded(
        &self,
        scope: &str,
        job_id: i64,
        attempt: i64,
        node: &str,
        what: &str,
    ) -> Result<(), sqlx::Error> {
        self.run(
            "UPDATE torture_ledger_v3 SET recorded = ?
             WHERE scope = ? AND job_id = ? AND attempt = ? AND node = ?",
            vec![
                Val::Text(what),
                Val::Text(scope),
                Val::Int(job_id),
                Val::Int(attempt),
                Val::Text(node),
            ],
        )
        .await
        .map(drop)
    }

    /// When the first execution of a job started, if one did.
    pub(crate) async fn first_start(
        &self,
        scope: &str,
        job_id: i64,
    ) -> Result<Option<i64>, sqlx::Error> {
        let rows = self
            .fetch(
                "SELECT MIN(started_at) AS started_at FROM torture_ledger_v3
                 WHERE scope = ? AND job_id = ?",
                vec![Val::Text(scope), Val::Int(job_id)],
            )
            .await?;
        match rows.first() {
            Some(row) => row.opt_int("started_at"),
            None => Ok(None),
        }
    }

    pub(crate) async fn executions(&self, scope: &str) -> Result<Vec<Execution>, sqlx::Error> {
        let rows = self
            .fetch(
                "SELECT job_id, attempt, queue, node, started_at, ended_at, outcome, recorded
                 FROM torture_ledger_v3 WHERE scope = ? ORDER BY started_at",
                vec![Val::Text(scope)],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Execution {
                    job_id: r.int("job_id")?,
                    attempt: r.int("attempt")?,
                    queue: r.text("queue")?.unwrap_or_default(),
                    node: r.text("node")?.unwrap_or_default(),
                    started_at: r.int("started_at")?,
                    ended_at: r.opt_int("ended_at")?,
                    outcome: r.text("outcome")?,
                    recorded: r.text("recorded")?,
                })
            })
            .collect()
    }
}

/// Microseconds of this machine's clock.
pub(crate) fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
