//! Shared test support: a fresh, isolated database per test on each backend,
//! a scripted performer, and waiting for events with a deadline.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use queuetopia::{Db, Event, Job, JobError, Performer};
use tokio::sync::{Semaphore, broadcast};

pub mod traces;

/// The backends every behaviour test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Postgres,
    Sqlite,
    MySql,
}

/// How long any wait of a test may take before it fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

pub fn postgres_url() -> String {
    std::env::var("QUEUETOPIA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

pub fn mysql_url() -> String {
    std::env::var("QUEUETOPIA_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned())
}

fn epoch_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// An isolated database: its own schema on PostgreSQL, its own database on
/// MySQL, its own file on SQLite.
pub struct TestDb {
    pub db: Db,
    pub kind: Kind,
    /// The test's own PostgreSQL schema.
    pub schema: Option<String>,
    file: Option<PathBuf>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(file) = &self.file {
            for suffix in ["", "-wal", "-shm"] {
                let mut name = file.clone().into_os_string();
                name.push(suffix);
                let _ = std::fs::remove_file(name);
            }
        }
    }
}

/// A name part no other test of this run shares.
pub fn unique() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

impl TestDb {
    /// A second handle on the same database with its own connection pool,
    /// for a node that runs on another tokio runtime.
    pub async fn reconnect(&self) -> Db {
        self.reconnect_with(queuetopia::Tables::default()).await
    }

    /// Cuts every connection of this test's pool from the server side (as a
    /// server restart would); on SQLite, which has no server, holds the
    /// database's write lock for a while instead.
    pub async fn cut_connections(&self) -> u64 {
        match self.kind {
            Kind::Postgres => {
                use sqlx::Connection;
                let mut admin = sqlx::PgConnection::connect(&postgres_url()).await.unwrap();
                let killed: Vec<bool> = sqlx::query_scalar(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                )
                .bind(self.schema.as_deref().unwrap())
                .fetch_all(&mut admin)
                .await
                .unwrap();
                killed.len() as u64
            }
            Kind::MySql => {
                use sqlx::Connection;
                let mut admin = sqlx::MySqlConnection::connect(&mysql_url()).await.unwrap();
                let database: String = sqlx::query_scalar("SELECT DATABASE()")
                    .fetch_one(self.db.mysql_pool().unwrap())
                    .await
                    .unwrap();
                let ids: Vec<i64> = sqlx::query_scalar(
                    "SELECT id FROM information_schema.processlist WHERE db = ?",
                )
                .bind(&database)
                .fetch_all(&mut admin)
                .await
                .unwrap();
                for id in &ids {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("KILL CONNECTION {id}")))
                        .execute(&mut admin)
                        .await;
                }
                ids.len() as u64
            }
            Kind::Sqlite => {
                use sqlx::Connection;
                let file = self.file.as_ref().unwrap();
                let mut other =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
                        .await
                        .unwrap();
                sqlx::raw_sql("BEGIN IMMEDIATE")
                    .execute(&mut other)
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(300)).await;
                sqlx::raw_sql("COMMIT").execute(&mut other).await.unwrap();
                1
            }
        }
    }

    /// The `queuetopia` command line's arguments that reach this database.
    pub async fn cli_args(&self) -> Vec<String> {
        match self.kind {
            // The test's tables by their schema: another placement of the
            // tables its own pool finds through the search path.
            Kind::Postgres => vec![
                "--database-url".to_owned(),
                postgres_url(),
                "--schema".to_owned(),
                self.schema.clone().unwrap(),
            ],
            Kind::MySql => {
                let database: String = sqlx::query_scalar("SELECT DATABASE()")
                    .fetch_one(self.db.mysql_pool().unwrap())
                    .await
                    .unwrap();
                let url = mysql_url();
                let (server, _) = url.rsplit_once('/').unwrap();
                vec!["--database-url".to_owned(), format!("{server}/{database}")]
            }
            Kind::Sqlite => {
                let file = self.file.as_ref().unwrap();
                vec![
                    "--database-url".to_owned(),
                    format!("sqlite://{}", file.display()),
                ]
            }
        }
    }

    /// Runs a statement on the test database, behind the library's back.
    pub async fn execute(&self, sql: &'static str) {
        self.try_execute(sql).await.unwrap();
    }

    /// Runs a statement on the test database, behind the library's back:
    /// the rows it wrote, or the database's error.
    pub async fn try_execute(&self, sql: &str) -> Result<u64, sqlx::Error> {
        let sql = || sqlx::AssertSqlSafe(sql.to_owned());
        Ok(match self.kind {
            Kind::Postgres => sqlx::query(sql())
                .execute(self.db.pg_pool().unwrap())
                .await?
                .rows_affected(),
            Kind::Sqlite => sqlx::query(sql())
                .execute(self.db.sqlite_pool().unwrap())
                .await?
                .rows_affected(),
            Kind::MySql => sqlx::query(sql())
                .execute(self.db.mysql_pool().unwrap())
                .await?
                .rows_affected(),
        })
    }

    /// The same pool, with the tables placed as `tables` says.
    pub fn with_tables(&self, tables: queuetopia::Tables) -> queuetopia::Result<Db> {
        match self.kind {
            Kind::Postgres => Db::from_pg_pool_with(self.db.pg_pool().unwrap().clone(), tables),
            Kind::Sqlite => {
                Db::from_sqlite_pool_with(self.db.sqlite_pool().unwrap().clone(), tables)
            }
            Kind::MySql => Db::from_mysql_pool_with(self.db.mysql_pool().unwrap().clone(), tables),
        }
    }

    /// A second handle on the same database, with the tables placed elsewhere.
    pub async fn reconnect_with(&self, tables: queuetopia::Tables) -> Db {
        match self.kind {
            Kind::Postgres => {
                let options = self.db.pg_pool().expect("postgres").connect_options();
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(4)
                    .connect_with((*options).clone())
                    .await
                    .expect("reconnect");
                Db::from_pg_pool_with(pool, tables).expect("placement")
            }
            Kind::Sqlite => {
                let file = self.file.as_ref().expect("sqlite file");
                Db::connect_with(&format!("sqlite://{}", file.display()), tables)
                    .await
                    .expect("reopen")
            }
            Kind::MySql => {
                let options = self.db.mysql_pool().expect("mysql").connect_options();
                let pool = sqlx::mysql::MySqlPoolOptions::new()
                    .max_connections(4)
                    .connect_with((*options).clone())
                    .await
                    .expect("reconnect");
                Db::from_mysql_pool_with(pool, tables).expect("placement")
            }
        }
    }
}

/// A fresh, migrated database of `kind`.
pub async fn fresh(kind: Kind) -> TestDb {
    traces::install();
    let t = fresh_unmigrated(kind).await;
    t.db.migrate().await.expect("migrate");
    t
}

/// A fresh database of `kind` without Queuetopia's tables.
pub async fn fresh_unmigrated(kind: Kind) -> TestDb {
    match kind {
        Kind::Postgres => {
            use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
            use std::str::FromStr;
            let url = postgres_url();
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect(&url)
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is not reachable at {url} ({e}). Start it with \
                         `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, \
                         or point QUEUETOPIA_TEST_POSTGRES_URL at a server"
                    )
                });
            drop_old_schemas(&admin).await;
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock after 1970")
                .as_secs();
            let schema = format!("qt_{secs}_{}", unique());
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&admin)
                .await
                .expect("create schema");
            admin.close().await;
            let options = PgConnectOptions::from_str(&url)
                .expect("url")
                .application_name(&schema)
                .options([("search_path", schema.as_str())]);
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await
                .expect("connect to the test schema");
            TestDb {
                db: Db::from_pg_pool(pool),
                kind,
                schema: Some(schema),
                file: None,
            }
        }
        Kind::MySql => {
            use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
            use std::str::FromStr;
            let url = mysql_url();
            let admin = MySqlPoolOptions::new()
                .max_connections(1)
                .connect(&url)
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "MariaDB/MySQL is not reachable at {url} ({e}). Start it with \
                         `start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd` \
                         (add `--chuid mysql` if it refuses to run as root), or point \
                         QUEUETOPIA_TEST_MYSQL_URL at a server"
                    )
                });
            drop_old_databases(&admin).await;
            let name = format!("qt_{}_{}", epoch_secs(), unique());
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&admin)
                .await
                .expect("create database");
            admin.close().await;
            let options = MySqlConnectOptions::from_str(&url)
                .expect("url")
                .database(&name);
            let pool = MySqlPoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await
                .expect("connect to the test database");
            TestDb {
                db: Db::from_mysql_pool(pool),
                kind,
                schema: None,
                file: None,
            }
        }
        Kind::Sqlite => {
            let file = std::env::temp_dir().join(format!("queuetopia-test-{}.db", unique()));
            let db = queuetopia::connect(&format!("sqlite://{}", file.display()))
                .await
                .expect("open a SQLite file");
            TestDb {
                db,
                kind,
                schema: None,
                file: Some(file),
            }
        }
    }
}

/// Test schemas of runs more than an hour old are dropped, so that they do
/// not pile up.
async fn drop_old_schemas(admin: &sqlx::PgPool) {
    let cutoff = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
        - 3600;
    let old: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname ~ '^qt_[0-9]+_'
         AND split_part(nspname, '_', 2)::bigint < $1",
    )
    .bind(cutoff as i64)
    .fetch_all(admin)
    .await
    .unwrap_or_default();
    for schema in old {
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE"
        )))
        .execute(admin)
        .await;
    }
}

/// Test databases of runs more than an hour old are dropped.
async fn drop_old_databases(admin: &sqlx::MySqlPool) {
    let cutoff = epoch_secs() - 3600;
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(schema_name AS CHAR) FROM information_schema.schemata \
         WHERE schema_name LIKE 'qt\\_%'",
    )
    .fetch_all(admin)
    .await
    .unwrap_or_default();
    for name in names {
        let old = name
            .split('_')
            .nth(1)
            .and_then(|t| t.parse::<u64>().ok())
            .is_some_and(|t| t < cutoff);
        if old {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name}"
            )))
            .execute(admin)
            .await;
        }
    }
}

/// One attempt as the scripted performer saw it.
#[derive(Debug, Clone)]
pub struct Run {
    pub job_id: i64,
    pub queue: String,
    pub attempt: u32,
    pub action: String,
    pub node: String,
}

/// A performer whose behaviour each job's params choose:
/// - `"fail_times": n`: fails while `attempts <= n`;
/// - `"panic": true`: panics;
/// - `"gate": "name"`: waits until the test opens that gate once;
/// - `"backoff_ms": n`: the backoff after a failure (default 10 ms);
/// - `"default_backoff": true`: the library's default backoff;
/// - `"hook_fails": true`: the failure hook returns an error.
///
/// It records every attempt, and counts attempts running at once per queue
/// (an overlap is a broken exclusion).
#[derive(Clone)]
pub struct Script {
    pub node: String,
    pub log: Arc<Mutex<Vec<Run>>>,
    pub overlaps: Arc<AtomicUsize>,
    running: Arc<Mutex<HashMap<String, usize>>>,
    gates: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
    pub failure_hook_calls: Arc<Mutex<Vec<Job>>>,
}

impl Script {
    pub fn new(node: &str) -> Self {
        Script {
            node: node.to_owned(),
            log: Arc::default(),
            overlaps: Arc::default(),
            running: Arc::default(),
            gates: Arc::default(),
            failure_hook_calls: Arc::default(),
        }
    }

    /// A script for another node that shares this one's log, overlap count and gates.
    pub fn sibling(&self, node: &str) -> Self {
        Script {
            node: node.to_owned(),
            ..self.clone()
        }
    }

    fn gate(&self, name: &str) -> Arc<Semaphore> {
        self.gates
            .lock()
            .unwrap()
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(0)))
            .clone()
    }

    /// Lets one job waiting at `name` go on.
    pub fn open(&self, name: &str) {
        self.gate(name).add_permits(1);
    }

    /// Attempts of `queue` running in the performer now.
    pub fn in_flight(&self, queue: &str) -> usize {
        self.running
            .lock()
            .unwrap()
            .get(queue)
            .copied()
            .unwrap_or(0)
    }

    pub fn runs(&self) -> Vec<Run> {
        self.log.lock().unwrap().clone()
    }

    /// The job ids in the order their attempts started, for one queue.
    pub fn order(&self, queue: &str) -> Vec<i64> {
        self.runs()
            .into_iter()
            .filter(|r| r.queue == queue)
            .map(|r| r.job_id)
            .collect()
    }
}

struct Running<'a> {
    script: &'a Script,
    queue: String,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut running = self.script.running.lock().unwrap();
        *running.get_mut(&self.queue).expect("entered") -= 1;
    }
}

impl Performer for Script {
    async fn perform(&self, job: &Job) -> Result<(), JobError> {
        let _running = {
            let mut running = self.running.lock().unwrap();
            let n = running.entry(job.queue.clone()).or_insert(0);
            *n += 1;
            if *n > 1 {
                self.overlaps.fetch_add(1, Ordering::SeqCst);
            }
            Running {
                script: self,
                queue: job.queue.clone(),
            }
        };
        self.log.lock().unwrap().push(Run {
            job_id: job.id,
            queue: job.queue.clone(),
            attempt: job.attempts,
            action: job.action.clone(),
            node: self.node.clone(),
        });
        // Give other tasks a chance to interleave.
        tokio::task::yield_now().await;
        if let Some(gate) = job.params.get("gate").and_then(|g| g.as_str()) {
            self.gate(gate).acquire().await.expect("gate open").forget();
        }
        if job.params.get("panic").and_then(|p| p.as_bool()) == Some(true) {
            panic!("boom");
        }
        let fail_times = job
            .params
            .get("fail_times")
            .and_then(|n| n.as_u64())
            .unwrap_or(0);
        if u64::from(job.attempts) <= fail_times {
            let error = JobError::new(format!("failure {}", job.attempts));
            if job.params.get("give_up").and_then(|p| p.as_bool()) == Some(true) {
                return Err(error.give_up());
            }
            if let Some(ms) = job.params.get("retry_in_ms").and_then(|n| n.as_u64()) {
                return Err(error.retry_in(Duration::from_millis(ms)));
            }
            return Err(error);
        }
        Ok(())
    }

    fn backoff(&self, job: &Job) -> Duration {
        if job.params.get("default_backoff").is_some() {
            return queuetopia::default_backoff(job);
        }
        Duration::from_millis(
            job.params
                .get("backoff_ms")
                .and_then(|n| n.as_u64())
                .unwrap_or(10),
        )
    }

    async fn on_failure(&self, job: &Job) -> Result<(), JobError> {
        self.failure_hook_calls.lock().unwrap().push(job.clone());
        if job.params.get("hook_fails").and_then(|p| p.as_bool()) == Some(true) {
            return Err(JobError::new("hook failed"));
        }
        Ok(())
    }
}

/// Waits until `pred` holds for an event, failing the test after [`DEADLINE`].
pub async fn wait_event(
    rx: &mut broadcast::Receiver<Event>,
    what: &str,
    mut pred: impl FnMut(&Event) -> bool,
) -> Event {
    let found = tokio::time::timeout(DEADLINE, async {
        loop {
            match rx.recv().await {
                Ok(e) if pred(&e) => return e,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => panic!("lagged {n} events"),
                Err(broadcast::error::RecvError::Closed) => panic!("events closed"),
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Waits until each predicate has held for some event, in any order;
/// returns the first event that matched each.
pub async fn wait_each(
    rx: &mut broadcast::Receiver<Event>,
    what: &str,
    preds: &[&dyn Fn(&Event) -> bool],
) -> Vec<Event> {
    let mut found: Vec<Option<Event>> = vec![None; preds.len()];
    while found.iter().any(Option::is_none) {
        let event = wait_event(rx, what, |_| true).await;
        for (slot, pred) in found.iter_mut().zip(preds) {
            if slot.is_none() && pred(&event) {
                *slot = Some(event.clone());
            }
        }
    }
    found.into_iter().map(|e| e.expect("found")).collect()
}

/// Waits until `n` jobs succeeded.
pub async fn wait_successes(rx: &mut broadcast::Receiver<Event>, n: usize) -> Vec<Job> {
    let mut done = Vec::new();
    while done.len() < n {
        if let Event::Succeeded { job } =
            wait_event(rx, &format!("{n} successes (got {})", done.len()), |e| {
                matches!(e, Event::Succeeded { .. })
            })
            .await
        {
            done.push(job);
        }
    }
    done
}

/// Polls `check` until it holds, failing the test after [`DEADLINE`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `$body` with one or more open transactions of the test database's
/// pool named `$tx…` (each arm is the same code on that backend's types).
#[macro_export]
macro_rules! in_tx {
    ($t:expr, $($tx:ident),+ => $body:block) => {
        match $t.kind {
            $crate::common::Kind::Postgres => {
                let pool = $t.db.pg_pool().unwrap();
                $(let mut $tx = pool.begin().await.unwrap();)+
                $body
            }
            $crate::common::Kind::Sqlite => {
                let pool = $t.db.sqlite_pool().unwrap();
                $(let mut $tx = pool.begin().await.unwrap();)+
                $body
            }
            $crate::common::Kind::MySql => {
                let pool = $t.db.mysql_pool().unwrap();
                $(let mut $tx = pool.begin().await.unwrap();)+
                $body
            }
        }
    };
}

/// Instantiates each behaviour test once per backend.
#[macro_export]
macro_rules! behaviour_tests {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Kind::Postgres).await
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Kind::Sqlite).await
                }
            )*
        }
        mod mysql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Kind::MySql).await
                }
            )*
        }
    };
}

/// Instantiates cases that test a mechanism of PostgreSQL alone (its
/// server-side functions, LISTEN/NOTIFY), on PostgreSQL only: they are
/// counted apart from the cases every backend runs.
#[macro_export]
macro_rules! postgres_only_tests {
    ($($name:ident),* $(,)?) => {
        mod postgres_only {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Kind::Postgres).await
                }
            )*
        }
    };
}
