//! SQLite: the embedded default, with no server to set up.
//!
//! SQLite has one writer at a time, so every write runs in a `BEGIN
//! IMMEDIATE` transaction and claims decide in Rust ([`super::queue_rule`]: the same steps as on MySQL) what
//! PostgreSQL decides in SQL. Times are stored as microseconds since the Unix
//! epoch; "now" is this machine's clock, which is the database's clock for an
//! embedded database, unless a clock is pinned.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::sqlite::{Sqlite, SqliteConnection, SqlitePool, SqliteRow};
use sqlx::{Connection, Row};

use super::mru_connections::Recent;
use super::multi_row::{Repeated, bind_job, bind_queue, chunks, repeat};
use super::ops::{
    AuditList, AuditRow, DeleteOlder, JobAct, JobGet, JobInsert, JobList, LockReleaseAll,
    QueueList, QueuePause, QueuePrune, SchemaMigrate,
};
use super::queue_rule::{ClaimSteps, claim_walk, plan_inserts, sequenced};
use super::{
    ClaimBatch, Claimed, FinishBatch, Finished, Inserted, JobAction, JobFinish, LockRenewal,
    Migration, NextWake, Outcome, QueueClaim, Store, Written,
};
use crate::backend::{Backend, Capabilities};
use crate::error::{Error, Result};
use crate::job::{ExhaustionPolicy, Job, NewJob, duration, millis};
use crate::list::{QueueInfo, QueueRow};
use crate::operator::{AuditEntry, params_from_text};
use crate::tables::Tables;

mod operators;

super::queries!(
    audit_delete_old,
    audit_insert,
    audit_list,
    job_by_id,
    job_cancel,
    job_delete_done,
    job_edit,
    job_get,
    job_head,
    job_insert,
    job_list,
    job_open,
    job_result,
    job_retry,
    job_skip,
    lock_release_all,
    lock_renew,
    migration_delete,
    migration_insert,
    migrations_table,
    queue_list,
    queue_next_wake,
    queue_pause,
    queue_prune,
    queue_ready,
    queue_refresh,
    queue_resume,
    queue_set,
    queue_upsert,
    schema_exists,
    schema_version,
);

const MIGRATIONS: &[Migration] = super::migrations![
    1 => "0001_init",
    2 => "0002_audit",
    3 => "0003_pause",
];

/// Every write transaction takes the write lock at once, so that two writers
/// never deadlock upgrading a read lock.
const BEGIN: &str = "BEGIN IMMEDIATE";

/// The SQLite store.
pub(crate) struct SqliteStore {
    pool: SqlitePool,
    /// The connections this store used last, taken first.
    recent: Recent<Sqlite>,
    tables: Tables,
    q: Queries,
    /// The statements written out for many rows at once.
    batch: BatchQueries,
    /// `queue_set.sql` then `queue_take.sql`, run in one call: a queue
    /// locked for its head, and the head's attempt counted.
    set_take: sqlx::SqlStr,
    /// `job_result.sql` then `queue_hand_on.sql`, run in one call: each
    /// call is a trip to sqlx's SQLite worker thread, which is most of what
    /// a statement costs here.
    result_hand_on: sqlx::SqlStr,
}

impl SqliteStore {
    /// Runs a retention delete (`sql`: scope, cutoff, limit) of rows of
    /// `scope` older than `older_than`; returns how many it deleted.
    async fn delete_older(&self, sql: sqlx::SqlStr, op: DeleteOlder<'_>) -> Result<u64> {
        let DeleteOlder {
            scope,
            older_than,
            limit,
            now,
        } = op;
        let now = now.unwrap_or_else(Utc::now);
        let cutoff = now - chrono::Duration::milliseconds(millis(older_than));
        let mut conn = self.pool.acquire().await?;
        let mut tx = conn.begin_with(BEGIN).await?;
        let done = sqlx::query(sql)
            .bind(scope)
            .bind(micros(cutoff))
            .bind(i64::from(limit))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    pub(crate) fn new(pool: SqlitePool, tables: Tables) -> Self {
        let result_hand_on = super::sql(
            &tables,
            concat!(
                include_str!("sql/job_result.sql"),
                ";\n",
                include_str!("sql/queue_hand_on.sql")
            ),
        );
        let q = Queries::new(&tables);
        let set_take = super::sql(
            &tables,
            concat!(
                include_str!("sql/queue_set.sql"),
                ";\n",
                include_str!("sql/queue_take.sql")
            ),
        );
        SqliteStore {
            recent: Recent::new(pool.clone()),
            pool,
            set_take,
            batch: BatchQueries::new(&q),
            q,
            tables,
            result_hand_on,
        }
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Creates jobs on the caller's connection (inside its transaction).
    pub(crate) async fn insert_on(
        &self,
        conn: &mut SqliteConnection,
        scope: &str,
        jobs: &[NewJob],
        now: Option<DateTime<Utc>>,
        _notify: bool,
    ) -> Result<Inserted> {
        self.insert(conn, scope, jobs, now.unwrap_or_else(Utc::now))
            .await
    }

    /// Creates jobs on `conn`, which the caller has put in a transaction:
    /// their queues' rows first, in name order, then the jobs, each in
    /// multi-row statements.
    async fn insert(
        &self,
        conn: &mut SqliteConnection,
        scope: &str,
        jobs: &[NewJob],
        now: DateTime<Utc>,
    ) -> Result<Inserted> {
        // Per queue: the last sequence number handed out so far, and its "now".
        let mut next: HashMap<String, (i64, Option<i64>)> = HashMap::new();
        let mut wake = false;
        let plans = plan_inserts(jobs, now);
        for (k, chunk) in chunks(&plans, false) {
            let mut upsert = sqlx::query(self.batch.upsert.get(k));
            for plan in chunk {
                upsert = bind_queue(upsert, scope, plan, now, micros);
            }
            let rows = upsert
                .bind(micros(now))
                .bind(micros(now))
                .fetch_all(&mut *conn)
                .await?;
            for row in rows {
                wake |= row.try_get::<bool, _>("ready")?;
                next.insert(
                    row.try_get("queue")?,
                    (
                        row.try_get("next_sequence")?,
                        row.try_get("last_enqueued_at")?,
                    ),
                );
            }
        }
        let rows = sequenced(jobs, &plans, next, now, micros)?;
        let inserted_at = time(micros(now))?;
        let mut stored = Vec::with_capacity(jobs.len());
        for (k, chunk) in chunks(&rows, false) {
            let mut insert = sqlx::query(self.batch.insert.get(k));
            for &(job, sequence, scheduled_at) in chunk {
                insert = bind_job(insert, scope, job, sequence, scheduled_at, micros(now));
            }
            let done = insert.execute(&mut *conn).await?;
            if done.rows_affected() != chunk.len() as u64 {
                return Err(Error::unexpected("a creation wrote fewer jobs than asked"));
            }
            // The last row's id; the others come before it, one by one.
            let first = done.last_insert_rowid() - (chunk.len() as i64 - 1);
            for (id, &(job, sequence, scheduled_at)) in (first..).zip(chunk) {
                stored.push(job.stored(scope, id, sequence, time(scheduled_at)?, inserted_at));
            }
        }
        Ok(Inserted { jobs: stored, wake })
    }
}

/// The statements written out for many rows at once.
struct BatchQueries {
    insert: Repeated,
    upsert: Repeated,
}

impl BatchQueries {
    fn new(q: &Queries) -> Self {
        const JOB: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
        const QUEUE: &str = "(?, ?, ?, ?, ?)";
        BatchQueries {
            insert: Repeated::new(|n| repeat(&q.job_insert, JOB, n, ",\n")),
            upsert: Repeated::new(|n| repeat(&q.queue_upsert, QUEUE, n, ",\n")),
        }
    }
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn time(us: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us)
        .ok_or_else(|| Error::unexpected(format!("time out of range: {us}")))
}

fn opt_time(us: Option<i64>) -> Result<Option<DateTime<Utc>>> {
    us.map(time).transpose()
}

fn plus(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t + chrono::Duration::milliseconds(millis(d))
}

fn count(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(if n < 0 { 0 } else { u32::MAX })
}

fn job_from_row(row: &SqliteRow) -> Result<Job> {
    let params: String = row.try_get("params")?;
    let params = match serde_json::from_str(&params) {
        Ok(Value::Object(map)) => map,
        _ => return Err(Error::unexpected("params is not a JSON object")),
    };
    let policy: Option<String> = row.try_get("on_exhausted")?;
    Ok(Job {
        id: row.try_get("id")?,
        scope: row.try_get("scope")?,
        queue: row.try_get("queue")?,
        action: row.try_get("action")?,
        params,
        sequence: row.try_get("sequence")?,
        scheduled_at: time(row.try_get("scheduled_at")?)?,
        timeout: duration(row.try_get("timeout_ms")?),
        max_backoff: duration(row.try_get("max_backoff_ms")?),
        max_attempts: count(row.try_get("max_attempts")?),
        on_exhausted: policy.as_deref().and_then(ExhaustionPolicy::parse),
        attempts: count(row.try_get("attempts")?),
        attempted_at: opt_time(row.try_get("attempted_at")?)?,
        attempted_by: row.try_get("attempted_by")?,
        next_attempt_at: opt_time(row.try_get("next_attempt_at")?)?,
        done_at: opt_time(row.try_get("done_at")?)?,
        given_up_at: opt_time(row.try_get("given_up_at")?)?,
        error: row.try_get("error")?,
        inserted_at: time(row.try_get("inserted_at")?)?,
        updated_at: time(row.try_get("updated_at")?)?,
    })
}

/// Runs the queue_refresh statement: see `sql/queue_refresh.sql`.
async fn refresh(
    q: &Queries,
    conn: &mut SqliteConnection,
    scope: &str,
    queue: &str,
    now: DateTime<Utc>,
    release_lock: bool,
    clear_running: bool,
) -> Result<()> {
    sqlx::query(q.queue_refresh.clone())
        .bind(scope)
        .bind(queue)
        .bind(micros(now))
        .bind(release_lock)
        .bind(clear_running)
        .execute(conn)
        .await?;
    Ok(())
}

/// A claim's steps on SQLite (see [`super::queue_rule::claim_walk`]).
struct Steps<'a> {
    q: &'a Queries,
    /// `queue_set.sql` then `queue_take.sql`.
    set_take: &'a sqlx::SqlStr,
    conn: &'a mut SqliteConnection,
    claim: &'a QueueClaim<'a>,
    now: DateTime<Utc>,
}

impl ClaimSteps for Steps<'_> {
    async fn open_job(&mut self, id: i64) -> Result<Option<Job>> {
        sqlx::query(self.q.job_open.clone())
            .bind(id)
            .fetch_optional(&mut *self.conn)
            .await?
            .map(|row| job_from_row(&row))
            .transpose()
    }

    async fn head(&mut self, queue: &str) -> Result<Option<Job>> {
        sqlx::query(self.q.job_head.clone())
            .bind(self.claim.scope)
            .bind(queue)
            .fetch_optional(&mut *self.conn)
            .await?
            .map(|row| job_from_row(&row))
            .transpose()
    }

    async fn set_queue(
        &mut self,
        queue: &str,
        lock: Option<(DateTime<Utc>, i64)>,
        ready_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        sqlx::query(self.q.queue_set.clone())
            .bind(self.claim.scope)
            .bind(queue)
            .bind(lock.map(|_| self.claim.node))
            .bind(lock.map(|l| micros(l.0)))
            .bind(lock.map(|_| self.claim.token))
            .bind(lock.map(|l| l.1))
            .bind(ready_at.map(micros))
            .execute(&mut *self.conn)
            .await?;
        Ok(())
    }

    async fn take(&mut self, head: Job, until: DateTime<Utc>) -> Result<Job> {
        let row = sqlx::query((*self.set_take).clone())
            .bind(self.claim.scope)
            .bind(&head.queue)
            .bind(self.claim.node)
            .bind(micros(until))
            .bind(self.claim.token)
            .bind(head.id)
            .bind(micros(until))
            .bind(micros(self.now))
            .fetch_one(&mut *self.conn)
            .await?;
        job_from_row(&row)
    }
}

impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            schemas: false,
            // The file is shared by the processes of one machine.
            many_machines: false,
            batch_claims: false,
            notifications: false,
            // The machine's clock is the embedded database's.
            server_clock: false,
            // One writer at a time.
            row_locks: false,
        }
    }

    fn schema_latest(&self) -> u32 {
        super::latest_version(MIGRATIONS)
    }

    async fn schema_version(&self) -> Result<u32> {
        let exists: bool = sqlx::query_scalar(self.q.schema_exists.clone())
            .fetch_one(&self.pool)
            .await?;
        if !exists {
            return Ok(0);
        }
        let v: Option<i64> = sqlx::query_scalar(self.q.schema_version.clone())
            .fetch_one(&self.pool)
            .await?;
        Ok(v.map_or(0, count))
    }

    async fn schema_migrate(&self, op: SchemaMigrate) -> Result<()> {
        let SchemaMigrate { target } = op;
        let mut conn = self.pool.acquire().await?;
        let mut tx = conn.begin_with(BEGIN).await?;
        sqlx::raw_sql(self.q.migrations_table.clone())
            .execute(&mut *tx)
            .await?;
        let current: Option<i64> = sqlx::query_scalar(self.q.schema_version.clone())
            .fetch_one(&mut *tx)
            .await?;
        let current = current.map_or(0, count);
        for (m, up) in super::migration_steps(MIGRATIONS, current, target) {
            let (script, record) = if up {
                (m.up, self.q.migration_insert.clone())
            } else {
                (m.down, self.q.migration_delete.clone())
            };
            sqlx::raw_sql(super::sql(&self.tables, script))
                .execute(&mut *tx)
                .await?;
            sqlx::query(record)
                .bind(i64::from(m.version))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn job_insert(&self, op: JobInsert<'_>) -> Result<Inserted> {
        let JobInsert {
            scope,
            jobs,
            now,
            notify: _,
        } = op;
        if jobs.is_empty() {
            return Ok(Inserted {
                jobs: Vec::new(),
                wake: false,
            });
        }
        let mut conn = self.recent.acquire().await?;
        let mut tx = conn.begin_with(BEGIN).await?;
        let stored = self
            .insert(&mut tx, scope, jobs, now.unwrap_or_else(Utc::now))
            .await?;
        tx.commit().await?;
        conn.finish();
        Ok(stored)
    }

    async fn queue_claim(&self, claim: QueueClaim<'_>) -> Result<ClaimBatch> {
        let mut conn = self.recent.acquire().await?;
        let mut tx = conn.begin_with(BEGIN).await?;
        let batch = self.claim_on(&mut tx, &claim).await?;
        tx.commit().await?;
        conn.finish();
        Ok(batch)
    }

    async fn job_finish(&self, b: FinishBatch<'_>) -> Result<Finished> {
        self.write_results(b).await
    }

    async fn job_get(&self, op: JobGet<'_>) -> Result<Option<(Job, bool)>> {
        let JobGet { scope, id } = op;
        let row = sqlx::query(self.q.job_get.clone())
            .bind(scope)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((job_from_row(&r)?, r.try_get("running")?)))
            .transpose()
    }

    async fn job_list(&self, op: JobList<'_>) -> Result<Vec<(Job, bool)>> {
        let JobList { scope, filter } = op;
        let rows = sqlx::query(self.q.job_list.clone())
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
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((job_from_row(r)?, r.try_get("running")?)))
            .collect()
    }

    async fn queue_list(&self, op: QueueList<'_>) -> Result<Vec<QueueInfo>> {
        let QueueList { scope, now } = op;
        let now = now.unwrap_or_else(Utc::now);
        let mut conn = self.pool.acquire().await?;
        // One read transaction, so that the heads match the queue rows.
        let mut tx = conn.begin().await?;
        let rows = sqlx::query(self.q.queue_list.clone())
            .bind(scope)
            .bind(micros(now))
            .fetch_all(&mut *tx)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let head_id: Option<i64> = r.try_get("head_id")?;
            let head = match head_id {
                Some(id) => sqlx::query(self.q.job_by_id.clone())
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|row| job_from_row(&row))
                    .transpose()?,
                None => None,
            };
            out.extend(
                QueueRow {
                    queue: r.try_get("queue")?,
                    size: r.try_get("size")?,
                    head,
                    blocked_since: opt_time(r.try_get("blocked_since")?)?,
                    locked_by: r.try_get("locked_by")?,
                    locked_until: opt_time(r.try_get("locked_until")?)?,
                    running_job_id: r.try_get("running_job_id")?,
                    paused_at: opt_time(r.try_get("paused_at")?)?,
                    paused_by: r.try_get("paused_by")?,
                }
                .into_info(),
            );
        }
        tx.commit().await?;
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
        let sql = self.q.audit_delete_old.clone();
        self.delete_older(sql, op).await
    }

    async fn job_delete_done(&self, op: DeleteOlder<'_>) -> Result<u64> {
        let sql = self.q.job_delete_done.clone();
        self.delete_older(sql, op).await
    }

    async fn queue_prune(&self, op: QueuePrune<'_>) -> Result<u64> {
        let QueuePrune { scope, limit, now } = op;
        let now = now.unwrap_or_else(Utc::now);
        let mut conn = self.pool.acquire().await?;
        let mut tx = conn.begin_with(BEGIN).await?;
        let done = sqlx::query(self.q.queue_prune.clone())
            .bind(scope)
            .bind(micros(now))
            .bind(i64::from(limit))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    async fn lock_renew(&self, r: LockRenewal<'_>) -> Result<bool> {
        let mut conn = self.pool.acquire().await?;
        let mut tx = conn.begin_with(BEGIN).await?;
        let until = plus(r.now.unwrap_or_else(Utc::now), r.lease);
        let done = sqlx::query(self.q.lock_renew.clone())
            .bind(r.scope)
            .bind(r.queue)
            .bind(r.node)
            .bind(r.job_id)
            .bind(r.token)
            .bind(micros(until))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn lock_release_all(&self, op: LockReleaseAll<'_>) -> Result<u64> {
        let LockReleaseAll { scope, node } = op;
        let mut conn = self.pool.acquire().await?;
        let mut tx = conn.begin_with(BEGIN).await?;
        let done = sqlx::query(self.q.lock_release_all.clone())
            .bind(scope)
            .bind(node)
            .bind(micros(Utc::now()))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}

async fn job_get_on(
    q: &Queries,
    conn: &mut SqliteConnection,
    scope: &str,
    id: i64,
) -> Result<Option<(Job, bool)>> {
    let row = sqlx::query(q.job_get.clone())
        .bind(scope)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| Ok((job_from_row(&r)?, r.try_get("running")?)))
        .transpose()
}

/// What a result's write returned: the job as stored, or no row when the
/// queue's lock is no longer the attempt's. (SQLite has one writer at a
/// time: no result is ever busy.)
fn written(job: Option<Job>) -> Written {
    job.map_or(Written::Lost, |job| Written::Stored(Box::new(job)))
}

/// `sql` (starting with `job_result.sql`) with one result's parameters bound.
fn result_query<'q>(
    sql: sqlx::SqlStr,
    scope: &'q str,
    node: &'q str,
    now: DateTime<Utc>,
    f: &'q JobFinish<'q>,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    let (ok, error, next_attempt_at, give_up) = match f.outcome {
        Outcome::Done => (true, None, None, false),
        Outcome::Failed {
            error,
            backoff,
            give_up,
            ..
        } => (
            false,
            Some(error),
            Some(micros(plus(now, backoff))),
            give_up,
        ),
    };
    sqlx::query(sql)
        .bind(scope)
        .bind(f.queue)
        .bind(micros(now))
        .bind(node)
        .bind(f.job_id)
        .bind(i64::from(f.attempt))
        .bind(f.token)
        .bind(ok)
        .bind(error)
        .bind(next_attempt_at)
        .bind(give_up)
}

impl SqliteStore {
    /// Writes the results of a batch, each under its queue's lock, and
    /// with `b.next` claims the freed slots' next queues: one transaction,
    /// one commit for them all.
    ///
    /// A single result is written together with `queue_hand_on.sql`, in one
    /// call: when its queue's next job may run now and no other queue waits
    /// for its turn, the queue's lock goes straight to that job (as
    /// PostgreSQL's `queuetopia_finish` does), and a queue draining alone
    /// costs three calls per job (begin, this, commit). Otherwise the
    /// results are written, their queues refreshed, and the claim runs.
    async fn write_results(&self, b: FinishBatch<'_>) -> Result<Finished> {
        let mut conn = self.recent.acquire().await?;
        let mut tx = conn.begin_with(BEGIN).await?;
        let now = b.now.unwrap_or_else(Utc::now);
        let mut jobs = Vec::with_capacity(b.results.len());
        let mut next = Vec::new();
        match (&b.results[..], b.next_claim()) {
            ([f], Some(claim)) if !f.keeps_lock() => {
                let rows = result_query(self.result_hand_on.clone(), b.scope, b.node, now, f)
                    .bind(claim.token)
                    .bind(millis(claim.lease_margin))
                    .bind(claim.lease_cap.map(millis))
                    .fetch_all(&mut *tx)
                    .await?;
                // The result's row, then the next job's if the lock went to it.
                let mut rows = rows.iter().map(job_from_row);
                jobs.push(written(rows.next().transpose()?));
                if let Some(job) = rows.next().transpose()? {
                    next.push(Claimed {
                        job,
                        abandoned: false,
                    });
                }
            }
            _ => {
                for f in &b.results {
                    let row = result_query(self.q.job_result.clone(), b.scope, b.node, now, f)
                        .fetch_optional(&mut *tx)
                        .await?;
                    jobs.push(written(row.as_ref().map(job_from_row).transpose()?));
                }
            }
        }
        if next.is_empty() {
            for (f, job) in b.results.iter().zip(&jobs) {
                if matches!(job, Written::Stored(_)) {
                    let release = !f.keeps_lock();
                    refresh(&self.q, &mut tx, b.scope, f.queue, now, release, true).await?;
                }
            }
            if let Some(claim) = b.next_claim() {
                next = self.claim_on(&mut tx, &claim).await?.claimed;
            }
        }
        tx.commit().await?;
        conn.finish();
        Ok(Finished { jobs, next })
    }

    /// Claims up to `claim.limit` ready queues inside the caller's
    /// transaction (see [`claim_walk`]).
    async fn claim_on(
        &self,
        tx: &mut SqliteConnection,
        claim: &QueueClaim<'_>,
    ) -> Result<ClaimBatch> {
        let now = claim.now.unwrap_or_else(Utc::now);
        let ready: Vec<(String, Option<i64>)> = sqlx::query_as(self.q.queue_ready.clone())
            .bind(claim.scope)
            .bind(micros(now))
            .bind(i64::from(claim.limit))
            .fetch_all(&mut *tx)
            .await?;
        let examined = u32::try_from(ready.len()).unwrap_or(u32::MAX);
        let mut steps = Steps {
            set_take: &self.set_take,
            q: &self.q,
            conn: &mut *tx,
            claim,
            now,
        };
        let claimed = claim_walk(&mut steps, claim, now, ready).await?;
        let next_wake = if examined < claim.limit {
            let next: Option<i64> = sqlx::query_scalar(self.q.queue_next_wake.clone())
                .bind(claim.scope)
                .bind(micros(now))
                .fetch_one(&mut *tx)
                .await?;
            Some(NextWake {
                now,
                next: opt_time(next)?,
            })
        } else {
            None
        };
        Ok(ClaimBatch {
            claimed,
            examined,
            next_wake,
        })
    }
}
