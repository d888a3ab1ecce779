//! MySQL and MariaDB.
//!
//! Claims lock ready queues with `FOR UPDATE SKIP LOCKED` (MySQL 8.0.1+,
//! MariaDB 10.6+). Neither server has `UPDATE … RETURNING` in common, so
//! writes are followed by reads (a result's job is read back with its
//! queue's new head), or the row as written is built from the one read
//! under the same lock (a counted attempt: [`Job::attempted`]); claims
//! decide in Rust ([`super::queue_rule`]) as on SQLite. A batch of creations
//! goes in multi-row statements (see [`super::multi_row`]). Times are `DATETIME(6)` in UTC from
//! `UTC_TIMESTAMP(6)`, read once per operation unless a clock is pinned.
//! Every read that must see the latest committed rows runs after the queue
//! row's lock is taken (or is a locking read), so any isolation level works;
//! pools made by [`crate::Db::connect`] use READ COMMITTED, which takes fewer
//! gap locks.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;
use sqlx::mysql::{MySqlConnection, MySqlPool, MySqlRow};
use sqlx::{Connection, Row, SqlSafeStr};

use super::multi_row::{MAX_ROWS_LOG2, Repeated, bind_job, bind_queue, chunks, padded, repeat};
use super::ops::{
    AuditList, AuditRow, DeleteOlder, JobAct, JobGet, JobInsert, JobList, LockReleaseAll,
    QueueList, QueuePause, QueuePrune, SchemaMigrate,
};
use super::queue_rule::{
    ClaimSteps, Decision, Head, claim_walk, decide, plan_inserts, ready_at, sequenced,
};
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
mod results;

use results::{QueueSeen, Refresh};

super::queries!(
    audit_delete_old,
    audit_insert,
    audit_list,
    db_now,
    job_by_id,
    job_cancel,
    job_complete,
    job_delete_done,
    job_edit,
    job_fail,
    job_get,
    job_head,
    job_head_after,
    job_head_handing_on,
    job_insert,
    job_list,
    job_open,
    job_retry,
    job_skip,
    job_written,
    lock_check,
    lock_release_all,
    lock_renew,
    migrate_lock,
    migrate_unlock,
    migration_delete,
    migration_insert,
    migrations_table,
    queue_list,
    queue_lock_row,
    queue_next_wake,
    queue_pause,
    queue_prune,
    queue_ready,
    queue_refresh,
    queue_resume,
    queue_row,
    queue_row_made,
    queue_set,
    queue_take,
    queue_try_lock,
    queue_upsert,
    queue_upserted,
    schema_exists,
    schema_version,
);

const MIGRATIONS: &[Migration] = super::migrations![
    1 => "0001_init",
    2 => "0002_audit",
    3 => "0003_pause",
];

/// The MySQL / MariaDB store.
pub(crate) struct MySqlStore {
    pool: MySqlPool,
    tables: Tables,
    q: Queries,
    /// The statements written out for many rows at once.
    batch: BatchQueries,
}

/// The statements written out for many rows at once.
struct BatchQueries {
    insert: Repeated,
    upsert: Repeated,
    upserted: Repeated,
    try_lock: Repeated,
    written: Repeated,
    /// `written` for one job, whose queue's lock may be handed on.
    written_handing_on: sqlx::SqlStr,
}

impl BatchQueries {
    fn new(q: &Queries) -> Self {
        const JOB: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
        const QUEUE: &str = "(?, ?, ?, ?, ?)";
        let list = |sql: &sqlx::SqlStr, n| {
            let binds = vec!["?"; n].join(", ");
            sql.as_str().replacen("IN (?)", &format!("IN ({binds})"), 1)
        };
        BatchQueries {
            insert: Repeated::new(|n| repeat(&q.job_insert, JOB, n, ",\n")),
            upsert: Repeated::new(|n| repeat(&q.queue_upsert, QUEUE, n, ",\n")),
            upserted: Repeated::new(|n| list(&q.queue_upserted, n)),
            try_lock: Repeated::new(|n| list(&q.queue_try_lock, n)),
            written: Repeated::new(|n| {
                let heads = vec![q.job_head_after.as_str(); n].join("\nUNION ALL\n");
                format!("{}\nUNION ALL\n{heads}", list(&q.job_written, n))
            }),
            written_handing_on: sqlx::AssertSqlSafe(format!(
                "{}\nUNION ALL\n{}",
                q.job_written.as_str(),
                q.job_head_handing_on.as_str()
            ))
            .into_sql_str(),
        }
    }
}

fn time(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

fn opt_time(t: Option<NaiveDateTime>) -> Option<DateTime<Utc>> {
    t.map(time)
}

/// A time as a DATETIME(6) column keeps it (sqlx sends whole microseconds).
fn whole_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

fn plus(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t + chrono::Duration::milliseconds(millis(d))
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

fn job_from_row(row: &MySqlRow) -> Result<Job> {
    let params: String = row.try_get("params")?;
    let params = match serde_json::from_str(&params) {
        Ok(Value::Object(map)) => map,
        _ => return Err(Error::unexpected("params is not a JSON object")),
    };
    let policy: Option<String> = row.try_get("on_exhausted")?;
    Ok(Job {
        id: row.try_get("id")?,
        scope: text(row, "scope")?,
        queue: text(row, "queue")?,
        action: text(row, "action")?,
        params,
        sequence: row.try_get("sequence")?,
        scheduled_at: time(row.try_get("scheduled_at")?),
        timeout: duration(row.try_get("timeout_ms")?),
        max_backoff: duration(row.try_get("max_backoff_ms")?),
        max_attempts: count(row.try_get("max_attempts")?),
        on_exhausted: policy.as_deref().and_then(ExhaustionPolicy::parse),
        attempts: count(row.try_get("attempts")?),
        attempted_at: opt_time(row.try_get("attempted_at")?),
        attempted_by: opt_text(row, "attempted_by")?,
        next_attempt_at: opt_time(row.try_get("next_attempt_at")?),
        done_at: opt_time(row.try_get("done_at")?),
        given_up_at: opt_time(row.try_get("given_up_at")?),
        error: row.try_get("error")?,
        inserted_at: time(row.try_get("inserted_at")?),
        updated_at: time(row.try_get("updated_at")?),
    })
}

/// A name column (VARBINARY, so that it compares byte for byte).
fn text(row: &MySqlRow, column: &str) -> Result<String> {
    let bytes: Vec<u8> = row.try_get(column)?;
    utf8(bytes)
}

fn opt_text(row: &MySqlRow, column: &str) -> Result<Option<String>> {
    let bytes: Option<Vec<u8>> = row.try_get(column)?;
    bytes.map(utf8).transpose()
}

fn utf8(bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| Error::unexpected(format!("a name is not UTF-8: {e}")))
}

/// `EXISTS (…)` comes back as an integer.
fn flag(row: &MySqlRow, column: &str) -> Result<bool> {
    Ok(row.try_get::<i64, _>(column)? != 0)
}

impl MySqlStore {
    /// Runs a retention delete (`sql`: scope, cutoff, limit) of rows of
    /// `scope` older than `older_than`; returns how many it deleted.
    async fn delete_older(&self, sql: sqlx::SqlStr, op: DeleteOlder<'_>) -> Result<u64> {
        let DeleteOlder {
            scope,
            older_than,
            limit,
            now,
        } = op;
        let mut conn = self.pool.acquire().await?;
        let now = self.now(&mut conn, now).await?;
        let cutoff = now - chrono::Duration::milliseconds(millis(older_than));
        let done = sqlx::query(sql)
            .bind(scope)
            .bind(cutoff)
            .bind(i64::from(limit))
            .execute(&mut *conn)
            .await?;
        Ok(done.rows_affected())
    }

    pub(crate) fn new(pool: MySqlPool, tables: Tables) -> Self {
        let q = Queries::new(&tables);
        MySqlStore {
            pool,
            batch: BatchQueries::new(&q),
            q,
            tables,
        }
    }

    pub(crate) fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// The pinned clock, or the database's.
    async fn now(
        &self,
        conn: &mut MySqlConnection,
        pinned: Option<DateTime<Utc>>,
    ) -> Result<DateTime<Utc>> {
        match pinned {
            Some(t) => Ok(t),
            None => {
                let t: NaiveDateTime = sqlx::query_scalar(self.q.db_now.clone())
                    .fetch_one(conn)
                    .await?;
                Ok(time(t))
            }
        }
    }

    /// Creates jobs on the caller's connection (inside its transaction).
    pub(crate) async fn insert_on(
        &self,
        conn: &mut MySqlConnection,
        scope: &str,
        jobs: &[NewJob],
        now: Option<DateTime<Utc>>,
        _notify: bool,
    ) -> Result<Inserted> {
        let now = self.now(conn, now).await?;
        self.insert(conn, scope, jobs, now).await
    }

    async fn insert(
        &self,
        conn: &mut MySqlConnection,
        scope: &str,
        jobs: &[NewJob],
        now: DateTime<Utc>,
    ) -> Result<Inserted> {
        // What the server keeps of a time: whole microseconds.
        let now = whole_micros(now);
        let mut next: HashMap<String, (i64, Option<DateTime<Utc>>)> = HashMap::new();
        let mut wake = false;
        let mut consecutive = false;
        // Queues in name order: creators lock queue rows in one order.
        let plans = plan_inserts(jobs, now);
        for (k, chunk) in chunks(&plans, false) {
            let mut upsert = sqlx::query(self.batch.upsert.get(k));
            for plan in chunk {
                upsert = bind_queue(upsert, scope, plan, now, whole_micros);
            }
            upsert.execute(&mut *conn).await?;
            let mut upserted = sqlx::query(self.batch.upserted.get(k))
                .bind(now)
                .bind(now)
                .bind(scope);
            for plan in chunk {
                upserted = upserted.bind(plan.queue);
            }
            for row in upserted.fetch_all(&mut *conn).await? {
                wake |= row.try_get::<Option<i64>, _>("ready")?.unwrap_or(0) != 0;
                consecutive = flag(&row, "consecutive_ids")?;
                let last: i64 = row.try_get("next_sequence")?;
                let enqueued: Option<NaiveDateTime> = row.try_get("last_enqueued_at")?;
                next.insert(text(&row, "queue")?, (last, opt_time(enqueued)));
            }
        }
        let rows = sequenced(jobs, &plans, next, now, whole_micros)?;
        let mut stored = Vec::with_capacity(jobs.len());
        // Row by row when the ids of a multi-row insert may have gaps.
        for (k, chunk) in chunks(&rows, !consecutive) {
            let mut insert = sqlx::query(self.batch.insert.get(k));
            for &(job, sequence, scheduled_at) in chunk {
                insert = bind_job(insert, scope, job, sequence, scheduled_at, now);
            }
            let done = insert.execute(&mut *conn).await?;
            // The first row's id; the others follow it, one by one.
            let first = i64::try_from(done.last_insert_id())
                .map_err(|_| Error::unexpected("a job id beyond the range of i64"))?;
            for (id, &(job, sequence, scheduled_at)) in (first..).zip(chunk) {
                stored.push(job.stored(scope, id, sequence, scheduled_at, now));
            }
        }
        Ok(Inserted { jobs: stored, wake })
    }

    /// Recomputes a queue's row from its head, under the row's lock.
    async fn refresh(
        &self,
        conn: &mut MySqlConnection,
        scope: &str,
        queue: &str,
        now: DateTime<Utc>,
        release_lock: bool,
        clear_running: bool,
    ) -> Result<()> {
        let row = sqlx::query(self.q.queue_row.clone())
            .bind(scope)
            .bind(queue)
            .fetch_one(&mut *conn)
            .await?;
        let seen = QueueSeen {
            locked_until: opt_time(row.try_get("locked_until")?),
            blocked_since: opt_time(row.try_get("blocked_since")?),
            paused: flag(&row, "paused")?,
        };
        let head = self.head(conn, scope, queue).await?;
        let refresh = Refresh {
            scope,
            queue,
            now,
            release_lock,
            clear_running,
        };
        self.write_refresh(conn, &refresh, &seen, head.as_ref())
            .await
    }

    /// Writes a queue's row as recomputed from its head, read under the
    /// row's lock, and from what the row held (`seen`).
    async fn write_refresh(
        &self,
        conn: &mut MySqlConnection,
        r: &Refresh<'_>,
        seen: &QueueSeen,
        head: Option<&Job>,
    ) -> Result<()> {
        let kept = if r.release_lock {
            None
        } else {
            seen.locked_until
        };
        let ready = ready_at(head, kept, r.now);
        let blocked = seen.blocked(head, r.now);
        sqlx::query(self.q.queue_refresh.clone())
            .bind(r.clear_running)
            .bind(r.release_lock)
            .bind(r.release_lock)
            .bind(r.release_lock)
            .bind(ready)
            .bind(blocked)
            .bind(r.scope)
            .bind(r.queue)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Locks a queue for its head until `until` and counts the head's new
    /// attempt, in one statement; `blocked`, when given, is the queue's new
    /// `blocked_since`. Returns the head as written.
    async fn take(
        &self,
        conn: &mut MySqlConnection,
        claim: &QueueClaim<'_>,
        head: Job,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
        blocked: Option<Option<DateTime<Utc>>>,
    ) -> Result<Job> {
        let now = whole_micros(now);
        sqlx::query(self.q.queue_take.clone())
            .bind(claim.node)
            .bind(until)
            .bind(claim.token)
            .bind(head.id)
            .bind(until)
            .bind(blocked.is_some())
            .bind(blocked.flatten())
            .bind(now)
            .bind(claim.node)
            .bind(now)
            .bind(claim.scope)
            .bind(&head.queue)
            .bind(head.id)
            .execute(conn)
            .await?;
        Ok(head.attempted(claim.node, now))
    }

    async fn head(
        &self,
        conn: &mut MySqlConnection,
        scope: &str,
        queue: &str,
    ) -> Result<Option<Job>> {
        sqlx::query(self.q.job_head.clone())
            .bind(scope)
            .bind(queue)
            .fetch_optional(conn)
            .await?
            .map(|row| job_from_row(&row))
            .transpose()
    }

    async fn job_by_id(&self, conn: &mut MySqlConnection, id: i64) -> Result<Job> {
        let row = sqlx::query(self.q.job_by_id.clone())
            .bind(id)
            .fetch_one(conn)
            .await?;
        job_from_row(&row)
    }

    /// Runs a migration script one statement at a time (MySQL commits DDL on
    /// its own, so a script cannot be one transaction).
    async fn run_script(&self, conn: &mut MySqlConnection, script: &str) -> Result<()> {
        for statement in script.split(";\n") {
            let has_sql = statement
                .lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"));
            if has_sql {
                sqlx::raw_sql(super::sql(&self.tables, statement))
                    .execute(&mut *conn)
                    .await?;
            }
        }
        Ok(())
    }

    async fn migrate_locked(&self, conn: &mut MySqlConnection, target: u32) -> Result<()> {
        let q = &self.q;
        sqlx::raw_sql(q.migrations_table.clone())
            .execute(&mut *conn)
            .await?;
        let current: Option<i32> = sqlx::query_scalar(q.schema_version.clone())
            .fetch_one(&mut *conn)
            .await?;
        let current = current.map_or(0, count);
        for (m, up) in super::migration_steps(MIGRATIONS, current, target) {
            let (script, record) = if up {
                (m.up, self.q.migration_insert.clone())
            } else {
                (m.down, self.q.migration_delete.clone())
            };
            self.run_script(conn, script).await?;
            sqlx::query(record)
                .bind(m.version)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

/// Starts a READ COMMITTED transaction in one round trip (public for the
/// conformance suite's check of it on a real server).
pub const BEGIN_READ_COMMITTED: &str =
    "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; START TRANSACTION";

/// A claim's steps on MySQL (see [`super::queue_rule::claim_walk`]).
struct Steps<'a> {
    store: &'a MySqlStore,
    conn: &'a mut MySqlConnection,
    claim: &'a QueueClaim<'a>,
    now: DateTime<Utc>,
}

impl ClaimSteps for Steps<'_> {
    async fn open_job(&mut self, id: i64) -> Result<Option<Job>> {
        sqlx::query(self.store.q.job_open.clone())
            .bind(id)
            .fetch_optional(&mut *self.conn)
            .await?
            .map(|row| job_from_row(&row))
            .transpose()
    }

    async fn head(&mut self, queue: &str) -> Result<Option<Job>> {
        self.store.head(self.conn, self.claim.scope, queue).await
    }

    async fn set_queue(
        &mut self,
        queue: &str,
        lock: Option<(DateTime<Utc>, i64)>,
        ready_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        sqlx::query(self.store.q.queue_set.clone())
            .bind(lock.map(|_| self.claim.node))
            .bind(lock.map(|l| l.0))
            .bind(lock.map(|_| self.claim.token))
            .bind(lock.map(|l| l.1))
            .bind(ready_at)
            .bind(self.claim.scope)
            .bind(queue)
            .execute(&mut *self.conn)
            .await?;
        Ok(())
    }

    async fn take(&mut self, head: Job, until: DateTime<Utc>) -> Result<Job> {
        self.store
            .take(self.conn, self.claim, head, until, self.now, None)
            .await
    }
}

impl Store for MySqlStore {
    fn backend(&self) -> Backend {
        Backend::MySql
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            schemas: false,
            many_machines: true,
            batch_claims: false,
            notifications: false,
            server_clock: true,
            row_locks: true,
        }
    }

    fn schema_latest(&self) -> u32 {
        super::latest_version(MIGRATIONS)
    }

    async fn schema_version(&self) -> Result<u32> {
        let exists: bool = sqlx::query_scalar::<_, i64>(self.q.schema_exists.clone())
            .fetch_one(&self.pool)
            .await?
            != 0;
        if !exists {
            return Ok(0);
        }
        let v: Option<i32> = sqlx::query_scalar(self.q.schema_version.clone())
            .fetch_one(&self.pool)
            .await?;
        Ok(v.map_or(0, count))
    }

    async fn schema_migrate(&self, op: SchemaMigrate) -> Result<()> {
        let SchemaMigrate { target } = op;
        let mut conn = self.pool.acquire().await?;
        let locked: Option<i64> = sqlx::query_scalar(self.q.migrate_lock.clone())
            .fetch_one(&mut *conn)
            .await?;
        if locked != Some(1) {
            return Err(Error::MigrationBusy);
        }
        let result = self.migrate_locked(&mut conn, target).await;
        sqlx::query(self.q.migrate_unlock.clone())
            .execute(&mut *conn)
            .await?;
        result
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
        let mut conn = self.pool.acquire().await?;
        let now = self.now(&mut conn, now).await?;
        let mut tx = conn.begin().await?;
        let inserted = self.insert(&mut tx, scope, jobs, now).await?;
        tx.commit().await?;
        Ok(inserted)
    }

    async fn queue_claim(&self, claim: QueueClaim<'_>) -> Result<ClaimBatch> {
        let mut conn = self.pool.acquire().await?;
        let now = self.now(&mut conn, claim.now).await?;
        let mut tx = conn.begin().await?;
        let batch = self.claim_on(&mut tx, &claim, now).await?;
        tx.commit().await?;
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
        row.map(|r| Ok((job_from_row(&r)?, flag(&r, "running")?)))
            .transpose()
    }

    async fn job_list(&self, op: JobList<'_>) -> Result<Vec<(Job, bool)>> {
        let JobList { scope, filter } = op;
        let like = filter.like_pattern('!');
        let state = filter.state.map(|s| s.as_str());
        let rows = sqlx::query(self.q.job_list.clone())
            .bind(scope)
            .bind(filter.id)
            .bind(filter.id)
            .bind(filter.queue.as_deref())
            .bind(filter.queue.as_deref())
            .bind(filter.queue_prefix.as_deref())
            .bind(filter.queue_prefix.as_deref())
            .bind(filter.queue_prefix.as_deref())
            .bind(filter.action.as_deref())
            .bind(filter.action.as_deref())
            .bind(like.as_deref())
            .bind(like.as_deref())
            .bind(like.as_deref())
            .bind(like.as_deref())
            .bind(filter.after)
            .bind(filter.oldest_first)
            .bind(filter.after)
            .bind(filter.after)
            .bind(state)
            .bind(state)
            .bind(filter.oldest_first)
            .bind(i64::from(filter.limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((job_from_row(r)?, flag(r, "running")?)))
            .collect()
    }

    async fn queue_list(&self, op: QueueList<'_>) -> Result<Vec<QueueInfo>> {
        let QueueList { scope, now } = op;
        let mut conn = self.pool.acquire().await?;
        let now = self.now(&mut conn, now).await?;
        // One transaction, so that the heads match the queue rows.
        let mut tx = conn.begin().await?;
        let rows = sqlx::query(self.q.queue_list.clone())
            .bind(now)
            .bind(now)
            .bind(scope)
            .fetch_all(&mut *tx)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let head_id: Option<i64> = r.try_get("head_id")?;
            let head = match head_id {
                Some(id) => Some(self.job_by_id(&mut tx, id).await?),
                None => None,
            };
            out.extend(
                QueueRow {
                    queue: text(r, "queue")?,
                    size: r.try_get("size")?,
                    head,
                    blocked_since: opt_time(r.try_get("blocked_since")?),
                    locked_by: opt_text(r, "locked_by")?,
                    locked_until: opt_time(r.try_get("locked_until")?),
                    running_job_id: r.try_get("running_job_id")?,
                    paused_at: opt_time(r.try_get("paused_at")?),
                    paused_by: opt_text(r, "paused_by")?,
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
        let mut conn = self.pool.acquire().await?;
        let now = self.now(&mut conn, now).await?;
        let done = sqlx::query(self.q.queue_prune.clone())
            .bind(scope)
            .bind(now)
            .bind(i64::from(limit))
            .execute(&mut *conn)
            .await?;
        Ok(done.rows_affected())
    }

    async fn lock_renew(&self, r: LockRenewal<'_>) -> Result<bool> {
        let mut conn = self.pool.acquire().await?;
        let until = plus(self.now(&mut conn, r.now).await?, r.lease);
        let done = sqlx::query(self.q.lock_renew.clone())
            .bind(until)
            .bind(until)
            .bind(r.scope)
            .bind(r.queue)
            .bind(r.node)
            .bind(r.job_id)
            .bind(r.token)
            .execute(&mut *conn)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn lock_release_all(&self, op: LockReleaseAll<'_>) -> Result<u64> {
        let LockReleaseAll { scope, node } = op;
        let mut conn = self.pool.acquire().await?;
        let now = self.now(&mut conn, None).await?;
        let done = sqlx::query(self.q.lock_release_all.clone())
            .bind(now)
            .bind(now)
            .bind(scope)
            .bind(node)
            .execute(&mut *conn)
            .await?;
        Ok(done.rows_affected())
    }
}
