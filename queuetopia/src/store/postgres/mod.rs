//! PostgreSQL: the production backend.
//!
//! Claims lock many queues in one round trip with `FOR UPDATE SKIP LOCKED`;
//! jobs are created many at once with `unnest`. All times come from the
//! server's `now()` unless a clock is pinned.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::{PgArguments, PgConnection, PgPool, PgRow};
use sqlx::{Executor, Postgres, Row, SqlStr, Transaction};

use super::mru_connections::{Recent, Taken};
use super::ops::{
    AuditList, AuditRow, DeleteOlder, JobAct, JobGet, JobInsert, JobList, LockReleaseAll,
    QueueList, QueuePause, QueuePrune, SchemaMigrate,
};
use super::{
    ClaimBatch, Claimed, FinishBatch, Finished, Inserted, JobAction, JobFinish, LockRenewal,
    Migration, NextWake, Outcome, QueueClaim, Store, Written,
};
use crate::backend::{Backend, Capabilities};
use crate::error::{Error, Result};
use crate::job::{ExhaustionPolicy, Job, NewJob, Schedule, duration, millis};
use crate::list::{QueueInfo, QueueRow};
use crate::operator::AuditEntry;
use crate::tables::Tables;

mod operators;
mod statements;

use statements::{
    audit_from_row, claim_rows, count, finish_many, finish_one, insert, job_from_row, refresh,
};

super::queries!(
    audit_delete_old,
    audit_insert,
    audit_list,
    claim,
    finish,
    finish_one,
    job_by_ids,
    job_cancel,
    job_delete_done,
    job_edit,
    job_get,
    job_insert,
    job_insert_one,
    job_list,
    job_queue,
    job_retry,
    job_skip,
    lock_release_all,
    lock_renew,
    migrate_lock,
    migration_delete,
    migration_insert,
    migrations_table,
    channel,
    notify,
    queue_list,
    queue_lock_row,
    queue_pause,
    queue_prune,
    queue_refresh,
    queue_resume,
    schema_exists,
    schema_version,
);

const MIGRATIONS: &[Migration] = super::migrations![
    1 => "0001_init",
    2 => "0002_audit",
    3 => "0003_pause",
];

/// The server-side functions (`sql/functions/`), applied after the
/// migrations by every run of `migrate` that leaves a schema: each file
/// replaces its function (`CREATE OR REPLACE`), so a new library brings its
/// functions without a migration. A function's body may call another, so
/// the order only matters for `job_ok`, whose argument is a job row, and
/// `check_job`, which creates the triggers that call it.
const FUNCTIONS: &[&str] = &[
    include_str!("sql/functions/job_ok.sql"),
    include_str!("sql/functions/check_job.sql"),
    include_str!("sql/functions/refresh.sql"),
    include_str!("sql/functions/claim.sql"),
    include_str!("sql/functions/finish.sql"),
    include_str!("sql/functions/finish_batch.sql"),
    include_str!("sql/functions/insert.sql"),
    include_str!("sql/functions/insert_one.sql"),
];

/// The PostgreSQL store.
pub(crate) struct PgStore {
    pool: PgPool,
    /// The connections this store used last, taken first.
    recent: Recent<Postgres>,
    tables: Tables,
    sql: Sql,
    /// Behind a pooler in transaction mode (see [`crate::Db::transaction_pooler`]):
    /// every statement runs in a transaction of its own, and no creation
    /// notifies.
    pooled: bool,
    /// The notification channel of the placement, named once by the server
    /// (see `sql/channel.sql`).
    channel: tokio::sync::OnceCell<String>,
}

/// The store's statements, and how they are prepared.
struct Sql {
    q: Queries,
    /// Whether statements are prepared once per connection and kept (named).
    /// Off behind a transaction pooler, where a named statement would outlive
    /// the server connection it was prepared on: statements are then unnamed.
    cached: bool,
}

impl Sql {
    fn query<'s>(
        &'s self,
        pick: impl FnOnce(&'s Queries) -> &'s SqlStr,
    ) -> sqlx::query::Query<'static, Postgres, PgArguments> {
        sqlx::query(pick(&self.q).clone()).persistent(self.cached)
    }

    fn scalar<'s, O>(
        &'s self,
        pick: impl FnOnce(&'s Queries) -> &'s SqlStr,
    ) -> sqlx::query::QueryScalar<'static, Postgres, O, PgArguments>
    where
        (O,): for<'r> sqlx::FromRow<'r, PgRow>,
    {
        sqlx::query_scalar(pick(&self.q).clone()).persistent(self.cached)
    }
}

/// A connection for one statement outside a transaction of the store's own:
/// straight from the pool, or, behind a transaction pooler, inside a
/// transaction (otherwise the pooler may hand the server connection to
/// another client between the statement's parse and its execution).
enum Session<'a> {
    Direct(Taken<'a, Postgres>),
    Pooled(Transaction<'static, Postgres>),
}

impl Session<'_> {
    fn conn(&mut self) -> &mut PgConnection {
        match self {
            Session::Direct(c) => c,
            Session::Pooled(tx) => tx,
        }
    }

    /// Its statements ended well: commit (behind a pooler), or keep the
    /// connection for the next session (see [`Recent`]).
    async fn done(self) -> Result<()> {
        match self {
            Session::Direct(c) => c.finish(),
            Session::Pooled(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

impl PgStore {
    /// Tells the other nodes, when the transaction commits, that a queue of
    /// `scope` may be claimable (where notifications are on).
    async fn notify_in(&self, conn: &mut PgConnection, scope: &str) -> Result<()> {
        if let Some(channel) = self.channel().await? {
            self.sql
                .query(|q| &q.notify)
                .bind(channel)
                .bind(scope)
                .execute(conn)
                .await?;
        }
        Ok(())
    }

    /// Runs a retention delete (`pick`: scope, clock, age in ms, limit) of
    /// rows of `scope` older than `older_than`; returns how many it deleted.
    async fn delete_older(
        &self,
        pick: impl FnOnce(&Queries) -> &SqlStr,
        op: DeleteOlder<'_>,
    ) -> Result<u64> {
        let DeleteOlder {
            scope,
            older_than,
            limit,
            now,
        } = op;
        let mut s = self.session().await?;
        let done = self
            .sql
            .query(pick)
            .bind(scope)
            .bind(now)
            .bind(millis(older_than))
            .bind(i64::from(limit))
            .execute(s.conn())
            .await?;
        s.done().await?;
        Ok(done.rows_affected())
    }

    pub(crate) fn new(pool: PgPool, tables: Tables) -> Self {
        PgStore {
            recent: Recent::new(pool.clone()),
            pool,
            sql: Sql {
                q: Queries::new(&tables),
                cached: true,
            },
            pooled: false,
            channel: tokio::sync::OnceCell::new(),
            tables,
        }
    }

    /// The same store, made safe behind a pooler in transaction mode.
    pub(crate) fn behind_transaction_pooler(&self) -> Self {
        let mut store = PgStore::new(self.pool.clone(), self.tables.clone());
        store.pooled = true;
        store.sql.cached = false;
        store
    }

    async fn session(&self) -> Result<Session<'_>> {
        Ok(if self.pooled {
            Session::Pooled(self.pool.begin().await?)
        } else {
            Session::Direct(self.recent.acquire().await?)
        })
    }

    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The placement's notification channel; none behind a transaction
    /// pooler, where nobody can listen.
    async fn channel(&self) -> Result<Option<&str>> {
        if self.pooled {
            return Ok(None);
        }
        let name = self
            .channel
            .get_or_try_init(|| async {
                let mut s = self.session().await?;
                let name = self
                    .sql
                    .scalar::<String>(|q| &q.channel)
                    .bind(self.tables.schema_name())
                    .bind(format!("{}wake", self.tables.prefix_name()))
                    .fetch_one(s.conn())
                    .await?;
                s.done().await?;
                Ok::<_, Error>(name)
            })
            .await?;
        Ok(Some(name))
    }

    /// Creates jobs on the caller's connection (inside its transaction).
    pub(crate) async fn insert_on(
        &self,
        conn: &mut PgConnection,
        scope: &str,
        jobs: &[NewJob],
        now: Option<DateTime<Utc>>,
        notify: bool,
    ) -> Result<Inserted> {
        let channel = if notify { self.channel().await? } else { None };
        insert(&self.sql, conn, scope, jobs, now, channel).await
    }
}

impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            schemas: true,
            many_machines: true,
            batch_claims: true,
            // Nobody can listen behind a transaction pooler.
            notifications: !self.pooled,
            server_clock: true,
            row_locks: true,
        }
    }

    fn schema_latest(&self) -> u32 {
        super::latest_version(MIGRATIONS)
    }

    async fn schema_version(&self) -> Result<u32> {
        let mut s = self.session().await?;
        let exists: bool = self
            .sql
            .scalar(|q| &q.schema_exists)
            .fetch_one(s.conn())
            .await?;
        if !exists {
            s.done().await?;
            return Ok(0);
        }
        let v: Option<i32> = self
            .sql
            .scalar(|q| &q.schema_version)
            .fetch_one(s.conn())
            .await?;
        s.done().await?;
        Ok(v.map_or(0, count))
    }

    async fn schema_migrate(&self, op: SchemaMigrate) -> Result<()> {
        let SchemaMigrate { target } = op;
        let mut tx = self.pool.begin().await?;
        self.sql
            .query(|q| &q.migrate_lock)
            .execute(&mut *tx)
            .await?;
        if let Some(schema) = self.tables.schema_name() {
            // Checked identifier: see `Tables::check`.
            let create = format!("CREATE SCHEMA IF NOT EXISTS {schema}");
            sqlx::raw_sql(sqlx::AssertSqlSafe(create))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::raw_sql(self.sql.q.migrations_table.clone())
            .execute(&mut *tx)
            .await?;
        let current: Option<i32> = self
            .sql
            .scalar(|q| &q.schema_version)
            .fetch_one(&mut *tx)
            .await?;
        let current = current.map_or(0, count);
        for (m, up) in super::migration_steps(MIGRATIONS, current, target) {
            let (script, record) = if up {
                (m.up, self.sql.q.migration_insert.clone())
            } else {
                (m.down, self.sql.q.migration_delete.clone())
            };
            sqlx::raw_sql(super::sql(&self.tables, script))
                .execute(&mut *tx)
                .await?;
            sqlx::query(record)
                .persistent(self.sql.cached)
                .bind(m.version as i32)
                .execute(&mut *tx)
                .await?;
        }
        if target > 0 {
            for function in FUNCTIONS {
                sqlx::raw_sql(super::sql(&self.tables, function))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn job_insert(&self, op: JobInsert<'_>) -> Result<Inserted> {
        let JobInsert {
            scope,
            jobs,
            now,
            notify,
        } = op;
        let channel = if notify { self.channel().await? } else { None };
        let mut s = self.session().await?;
        let inserted = insert(&self.sql, s.conn(), scope, jobs, now, channel).await?;
        s.done().await?;
        Ok(inserted)
    }

    async fn queue_claim(&self, claim: QueueClaim<'_>) -> Result<ClaimBatch> {
        let mut s = self.session().await?;
        let rows = self
            .sql
            .query(|q| &q.claim)
            .bind(claim.scope)
            .bind(claim.now)
            .bind(i64::from(claim.limit))
            .bind(claim.node)
            .bind(millis(claim.lease_margin))
            .bind(claim.token)
            .bind(claim.lease_cap.map(millis))
            .fetch_all(s.conn())
            .await?;
        s.done().await?;
        claim_rows(&rows)
    }

    async fn job_finish(&self, b: FinishBatch<'_>) -> Result<Finished> {
        let n = b.results.len();
        let next = b.next_claim();
        let mut s = self.session().await?;
        let query = match &b.results[..] {
            [f] => finish_one(&self.sql, &b, f),
            _ => finish_many(&self.sql, &b),
        };
        let rows = query
            .bind(next.as_ref().map_or(0, |c| i64::from(c.limit)))
            .bind(next.as_ref().map_or(0, |c| millis(c.lease_margin)))
            .bind(next.as_ref().map_or(0, |c| c.token))
            .bind(next.as_ref().and_then(|c| c.lease_cap).map(millis))
            .bind(b.wait)
            .fetch_all(s.conn())
            .await?;
        s.done().await?;
        let mut written: HashMap<i64, Written> = HashMap::with_capacity(n);
        let mut claim = Vec::new();
        for row in rows {
            let role: String = row.try_get("role")?;
            match role.as_str() {
                "finished" => {
                    let job = job_from_row(&row)?;
                    written.insert(job.id, Written::Stored(Box::new(job)));
                }
                "busy" => {
                    written.insert(row.try_get("id")?, Written::Busy);
                }
                _ => claim.push(row),
            }
        }
        let jobs = b
            .results
            .iter()
            .map(|f| written.remove(&f.job_id).unwrap_or(Written::Lost))
            .collect();
        Ok(Finished {
            jobs,
            next: claim_rows(&claim)?.claimed,
        })
    }

    async fn job_get(&self, op: JobGet<'_>) -> Result<Option<(Job, bool)>> {
        let JobGet { scope, id } = op;
        let mut s = self.session().await?;
        let row = self
            .sql
            .query(|q| &q.job_get)
            .bind(scope)
            .bind(id)
            .fetch_optional(s.conn())
            .await?;
        s.done().await?;
        row.map(|r| Ok((job_from_row(&r)?, r.try_get("running")?)))
            .transpose()
    }

    async fn job_list(&self, op: JobList<'_>) -> Result<Vec<(Job, bool)>> {
        let JobList { scope, filter } = op;
        let mut s = self.session().await?;
        let rows = self
            .sql
            .query(|q| &q.job_list)
            .bind(scope)
            .bind(filter.id)
            .bind(filter.queue.as_deref())
            .bind(filter.action.as_deref())
            .bind(filter.state.map(|s| s.as_str()))
            .bind(filter.like_pattern('\\'))
            .bind(filter.after)
            .bind(filter.oldest_first)
            .bind(i64::from(filter.limit))
            .bind(filter.queue_prefix.as_deref())
            .fetch_all(s.conn())
            .await?;
        s.done().await?;
        rows.iter()
            .map(|r| Ok((job_from_row(r)?, r.try_get("running")?)))
            .collect()
    }

    async fn queue_list(&self, op: QueueList<'_>) -> Result<Vec<QueueInfo>> {
        let QueueList { scope, now } = op;
        let mut s = self.session().await?;
        let rows = self
            .sql
            .query(|q| &q.queue_list)
            .bind(scope)
            .bind(now)
            .fetch_all(s.conn())
            .await?;
        let head_ids: Vec<i64> = rows
            .iter()
            .filter_map(|r| r.try_get::<Option<i64>, _>("head_id").ok().flatten())
            .collect();
        let heads = self
            .sql
            .query(|q| &q.job_by_ids)
            .bind(&head_ids)
            .fetch_all(s.conn())
            .await?
            .iter()
            .map(job_from_row)
            .collect::<Result<Vec<_>>>()?;
        s.done().await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let head_id: Option<i64> = r.try_get("head_id")?;
            let head = head_id.and_then(|id| heads.iter().find(|j| j.id == id).cloned());
            out.extend(
                QueueRow {
                    queue: r.try_get("queue")?,
                    size: r.try_get("size")?,
                    head,
                    blocked_since: r.try_get("blocked_since")?,
                    locked_by: r.try_get("locked_by")?,
                    locked_until: r.try_get("locked_until")?,
                    running_job_id: r.try_get("running_job_id")?,
                    paused_at: r.try_get("paused_at")?,
                    paused_by: r.try_get("paused_by")?,
                }
                .into_info(),
            );
        }
        Ok(out)
    }

    async fn job_act(&self, op: JobAct<'_>) -> Result<Job> {
        self.act_on_job(op).await
    }

    async fn queue_pause(&self, op: QueuePause<'_>) -> Result<()> {
        self.pause_or_resume(op).await
    }

    async fn audit_list(&self, op: AuditList<'_>) -> Result<Vec<AuditEntry>> {
        self.read_audit(op).await
    }

    async fn audit_delete_old(&self, op: DeleteOlder<'_>) -> Result<u64> {
        self.delete_older(|q| &q.audit_delete_old, op).await
    }

    async fn job_delete_done(&self, op: DeleteOlder<'_>) -> Result<u64> {
        self.delete_older(|q| &q.job_delete_done, op).await
    }

    async fn queue_prune(&self, op: QueuePrune<'_>) -> Result<u64> {
        let QueuePrune { scope, limit, now } = op;
        let mut s = self.session().await?;
        let done = self
            .sql
            .query(|q| &q.queue_prune)
            .bind(scope)
            .bind(now)
            .bind(i64::from(limit))
            .execute(s.conn())
            .await?;
        s.done().await?;
        Ok(done.rows_affected())
    }

    async fn lock_renew(&self, r: LockRenewal<'_>) -> Result<bool> {
        let mut s = self.session().await?;
        let done = self
            .sql
            .query(|q| &q.lock_renew)
            .bind(r.scope)
            .bind(r.queue)
            .bind(r.node)
            .bind(r.job_id)
            .bind(r.token)
            .bind(millis(r.lease))
            .bind(r.now)
            .execute(s.conn())
            .await?;
        s.done().await?;
        Ok(done.rows_affected() == 1)
    }

    fn spawn_listener(
        &self,
        scope: &str,
        on_wake: std::sync::Arc<dyn Fn() + Send + Sync>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let (pool, scope) = (self.pool.clone(), scope.to_owned());
        let (name, schema, base) = (
            self.sql.q.channel.clone(),
            self.tables.schema_name().map(str::to_owned),
            format!("{}wake", self.tables.prefix_name()),
        );
        Some(tokio::spawn(async move {
            // Named by the server, as the creations name it.
            let channel = loop {
                let named = sqlx::query_scalar::<_, String>(name.clone())
                    .bind(schema.as_deref())
                    .bind(&base)
                    .fetch_one(&pool)
                    .await;
                match named {
                    Ok(channel) => break channel,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot name the notification channel");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            };
            listen(pool, channel, scope, on_wake).await
        }))
    }

    async fn lock_release_all(&self, op: LockReleaseAll<'_>) -> Result<u64> {
        let LockReleaseAll { scope, node } = op;
        let mut s = self.session().await?;
        let n: i64 = self
            .sql
            .scalar(|q| &q.lock_release_all)
            .bind(scope)
            .bind(node)
            .bind(None::<DateTime<Utc>>)
            .fetch_one(s.conn())
            .await?;
        s.done().await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// Listens on the placement's channel and calls `on_wake` for notifications
/// of `scope`, reconnecting (with a growing pause) when the connection is lost.
async fn listen(
    pool: PgPool,
    channel: String,
    scope: String,
    on_wake: std::sync::Arc<dyn Fn() + Send + Sync>,
) {
    let mut pause = Duration::from_millis(100);
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?pause, "cannot listen for notifications");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        if let Err(e) = listener.listen(&channel).await {
            tracing::warn!(error = %e, retry_in = ?pause, "cannot listen for notifications");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(30));
            continue;
        }
        tracing::debug!(%channel, "listening for notifications");
        pause = Duration::from_millis(100);
        // Whatever was sent while not listening is lost: look now.
        on_wake();
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => {
                    if n.payload() == scope {
                        on_wake();
                    }
                }
                Ok(None) => {
                    // The connection was lost; the next call reconnects.
                    tracing::warn!("the notification connection was lost; reconnecting");
                    on_wake();
                }
                Err(e) => {
                    tracing::warn!(error = %e, "listening for notifications failed");
                    break;
                }
            }
        }
    }
}
