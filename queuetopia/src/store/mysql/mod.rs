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
use crate::list::{JobFilter, QueueInfo, QueueRow};
use crate::tables::Tables;

super::queries!(
    db_now,
    job_by_id,
    job_complete,
    job_delete_done,
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
    queue_prune,
    queue_ready,
    queue_refresh,
    queue_row,
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

/// Starts a READ COMMITTED transaction in one round trip.
const BEGIN_READ_COMMITTED: &str =
    "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; START TRANSACTION";

/// What a queue's row held when its lock was taken, for its refresh.
struct QueueSeen {
    locked_until: Option<DateTime<Utc>>,
    blocked_since: Option<DateTime<Utc>>,
}

impl QueueSeen {
    /// The queue's `blocked_since` once `head` is its head: kept from
    /// before (or `now`) while the head has failed, none otherwise.
    fn blocked(&self, head: Option<&Job>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        head.filter(|h| h.error.is_some())
            .map(|_| self.blocked_since.unwrap_or(now))
    }
}

/// A result's queue row, locked.
struct RowLock {
    locked_by: Option<String>,
    running_job_id: Option<i64>,
    lock_token: Option<i64>,
    /// The database's clock.
    now: DateTime<Utc>,
    seen: QueueSeen,
}

impl RowLock {
    /// The queue's lock is still the one `f`'s attempt was claimed under.
    fn owned_by(&self, node: &str, f: &JobFinish<'_>) -> bool {
        self.locked_by.as_deref() == Some(node)
            && self.running_job_id == Some(f.job_id)
            && self.lock_token == Some(f.token)
    }
}

/// A queue's refresh: recompute its row from its head at `now`, releasing
/// its lock or not, clearing its running attempt or not.
struct Refresh<'a> {
    scope: &'a str,
    queue: &'a str,
    now: DateTime<Utc>,
    release_lock: bool,
    clear_running: bool,
}

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

    async fn schema_migrate(&self, target: u32) -> Result<()> {
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

    async fn job_insert(
        &self,
        scope: &str,
        jobs: &[NewJob],
        now: Option<DateTime<Utc>>,
        _notify: bool,
    ) -> Result<Inserted> {
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

    async fn job_get(&self, scope: &str, id: i64) -> Result<Option<(Job, bool)>> {
        let row = sqlx::query(self.q.job_get.clone())
            .bind(scope)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((job_from_row(&r)?, flag(&r, "running")?)))
            .transpose()
    }

    async fn job_list(&self, scope: &str, filter: &JobFilter) -> Result<Vec<(Job, bool)>> {
        let like = filter.like_pattern('!');
        let state = filter.state.map(|s| s.as_str());
        let rows = sqlx::query(self.q.job_list.clone())
            .bind(scope)
            .bind(filter.id)
            .bind(filter.id)
            .bind(filter.queue.as_deref())
            .bind(filter.queue.as_deref())
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

    async fn queue_list(&self, scope: &str, now: Option<DateTime<Utc>>) -> Result<Vec<QueueInfo>> {
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
                }
                .into_info(),
            );
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn job_act(
        &self,
        scope: &str,
        id: i64,
        action: JobAction,
        now: Option<DateTime<Utc>>,
    ) -> Result<Job> {
        let q = &self.q;
        let mut conn = self.pool.acquire().await?;
        let now = self.now(&mut conn, now).await?;
        let mut tx = conn.begin().await?;
        let job = sqlx::query(q.job_get.clone())
            .bind(scope)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(job) = job else {
            return Err(Error::JobNotFound(id));
        };
        let queue = text(&job, "queue")?;
        let running: Option<i64> = sqlx::query_scalar(q.queue_lock_row.clone())
            .bind(id)
            .bind(scope)
            .bind(&queue)
            .fetch_optional(&mut *tx)
            .await?;
        if running == Some(1) {
            return Err(Error::JobState {
                id,
                reason: "an attempt of it is running",
            });
        }
        let written = match action {
            JobAction::Retry => {
                sqlx::query(q.job_retry.clone())
                    .bind(now)
                    .bind(scope)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
            }
            JobAction::Skip => {
                sqlx::query(q.job_skip.clone())
                    .bind(now)
                    .bind(now)
                    .bind(scope)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
            }
        };
        if written.rows_affected() != 1 {
            return Err(Error::JobState {
                id,
                reason: action.refusal(),
            });
        }
        let updated = self.job_by_id(&mut tx, id).await?;
        self.refresh(&mut tx, scope, &queue, now, false, false)
            .await?;
        tx.commit().await?;
        Ok(updated)
    }

    async fn job_delete_done(
        &self,
        scope: &str,
        older_than: Duration,
        limit: u32,
        now: Option<DateTime<Utc>>,
    ) -> Result<u64> {
        let mut conn = self.pool.acquire().await?;
        let now = self.now(&mut conn, now).await?;
        let cutoff = now - chrono::Duration::milliseconds(millis(older_than));
        let done = sqlx::query(self.q.job_delete_done.clone())
            .bind(scope)
            .bind(cutoff)
            .bind(i64::from(limit))
            .execute(&mut *conn)
            .await?;
        Ok(done.rows_affected())
    }

    async fn queue_prune(
        &self,
        scope: &str,
        limit: u32,
        now: Option<DateTime<Utc>>,
    ) -> Result<u64> {
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

    async fn lock_release_all(&self, scope: &str, node: &str) -> Result<u64> {
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

impl MySqlStore {
    /// Writes the results of a batch, each under its queue's lock, and
    /// with `b.next` claims the freed slots' next queues: one transaction,
    /// one commit for them all. That transaction is READ COMMITTED whatever
    /// the pool's default (MySQL's is REPEATABLE READ): under it, the claim
    /// would read the jobs with a snapshot taken before it locked the other
    /// queues' rows, miss a job committed just before, and park its queue.
    ///
    /// The queue rows are locked in one statement, the results written one
    /// by one, the jobs as written and the queues' heads read in one
    /// statement, then each queue refreshed. A single result whose queue's
    /// next job may run now, while no other queue of the scope waits for its
    /// turn, hands its lock straight to that job instead, as the refresh and
    /// the claim would decide: a queue draining alone costs five statements
    /// and a commit per job.
    async fn write_results(&self, b: FinishBatch<'_>) -> Result<Finished> {
        let mut conn = self.pool.acquire().await?;
        let mut tx = match b.next {
            Some(_) => conn.begin_with(BEGIN_READ_COMMITTED).await?,
            None => conn.begin().await?,
        };
        let locks = self.lock_rows(&mut tx, &b).await?;
        // The pinned clock, or the database's as the row locks read it.
        let now = b.now.or_else(|| locks.values().next().map(|l| l.now));
        // Each result whose lock is still its attempt's, written.
        let mut wrote = Vec::new();
        let mut tried = 0;
        for f in &b.results {
            match (locks.get(f.queue), now) {
                (Some(lock), Some(now)) if lock.owned_by(b.node, f) => {
                    if self.write_result(&mut tx, now, f).await? {
                        wrote.push(f);
                    }
                    tried += 1;
                }
                (Some(_), _) => tried += 1,
                // A write that waits finds its row, or the queue is gone.
                (None, _) if b.wait => tried += 1,
                (None, _) => {}
            }
        }
        let mut written = HashMap::new();
        let mut next = Vec::new();
        if let Some(now) = now
            && !wrote.is_empty()
        {
            let hand_on = match (&b.results[..], b.next_claim()) {
                ([f], Some(claim)) if !f.keeps_lock() => Some(claim),
                _ => None,
            };
            let mut heads;
            (written, heads) = self
                .read_written(&mut tx, &b, now, &wrote, hand_on.is_some())
                .await?;
            // A job written under its queue's lock is there to be read.
            if wrote.iter().any(|f| !written.contains_key(&f.job_id)) {
                return Err(Error::unexpected("a result written was not read back"));
            }
            for f in &wrote {
                let seen = &locks[f.queue].seen;
                let (head, others) = heads.remove(f.queue).unzip();
                if let (Some(claim), Some(head), Some(false)) = (&hand_on, &head, others)
                    && decide(Some(Head::of(head)), now) == Decision::Run
                {
                    let until = plus(now, claim.lease(head));
                    let blocked = seen.blocked(Some(head), now);
                    let head = head.clone();
                    let job = self
                        .take(&mut tx, claim, head, until, now, Some(blocked))
                        .await?;
                    next.push(Claimed {
                        job,
                        abandoned: false,
                    });
                    continue;
                }
                let refresh = Refresh {
                    scope: b.scope,
                    queue: f.queue,
                    now,
                    release_lock: !f.keeps_lock(),
                    clear_running: true,
                };
                self.write_refresh(&mut tx, &refresh, seen, head.as_ref())
                    .await?;
            }
        }
        let jobs = b
            .results
            .iter()
            .map(|f| match written.remove(&f.job_id) {
                Some(job) => Written::Stored(Box::new(job)),
                None if locks.contains_key(f.queue) || b.wait => Written::Lost,
                None => Written::Busy,
            })
            .collect();
        if next.is_empty()
            && let Some(mut claim) = b.next_claim()
            && tried > 0
        {
            claim.limit = claim.limit.min(u32::try_from(tried).unwrap_or(u32::MAX));
            let now = match now {
                Some(now) => now,
                None => self.now(&mut tx, None).await?,
            };
            next = self.claim_on(&mut tx, &claim, now).await?.claimed;
        }
        tx.commit().await?;
        Ok(Finished { jobs, next })
    }

    /// Locks the results' queue rows: with `b.wait` one by one, each
    /// waiting for its row (`lock_check`), else all in one statement that
    /// skips the rows other transactions hold (`queue_try_lock`). A queue
    /// without a row here is gone (waiting) or busy (not waiting).
    async fn lock_rows(
        &self,
        tx: &mut MySqlConnection,
        b: &FinishBatch<'_>,
    ) -> Result<HashMap<String, RowLock>> {
        let mut rows = Vec::new();
        if b.wait {
            for f in &b.results {
                let row = sqlx::query(self.q.lock_check.clone())
                    .bind(b.scope)
                    .bind(f.queue)
                    .fetch_optional(&mut *tx)
                    .await?;
                rows.extend(row);
            }
        } else {
            let mut queues: Vec<&str> = b.results.iter().map(|f| f.queue).collect();
            queues.sort_unstable();
            queues.dedup();
            for chunk in queues.chunks(1 << MAX_ROWS_LOG2) {
                let (k, queues) = padded(chunk);
                let mut lock = sqlx::query(self.batch.try_lock.get(k)).bind(b.scope);
                for queue in queues {
                    lock = lock.bind(*queue);
                }
                rows.extend(lock.fetch_all(&mut *tx).await?);
            }
        }
        rows.iter()
            .map(|r| {
                let lock = RowLock {
                    locked_by: opt_text(r, "locked_by")?,
                    running_job_id: r.try_get("running_job_id")?,
                    lock_token: r.try_get("lock_token")?,
                    now: time(r.try_get("now")?),
                    seen: QueueSeen {
                        locked_until: opt_time(r.try_get("locked_until")?),
                        blocked_since: opt_time(r.try_get("blocked_since")?),
                    },
                };
                Ok((text(r, "queue")?, lock))
            })
            .collect()
    }

    /// Writes one attempt's result inside the batch's transaction, once its
    /// queue's row is locked and its lock checked; false when the job's row
    /// no longer matches the attempt (nothing written).
    async fn write_result(
        &self,
        tx: &mut MySqlConnection,
        now: DateTime<Utc>,
        f: &JobFinish<'_>,
    ) -> Result<bool> {
        let q = &self.q;
        let written = match f.outcome {
            Outcome::Done => {
                sqlx::query(q.job_complete.clone())
                    .bind(now)
                    .bind(now)
                    .bind(f.job_id)
                    .bind(i64::from(f.attempt))
                    .execute(&mut *tx)
                    .await?
            }
            Outcome::Failed {
                error,
                backoff,
                give_up,
                ..
            } => {
                sqlx::query(q.job_fail.clone())
                    .bind(error)
                    .bind(plus(now, backoff))
                    .bind(give_up.then_some(now))
                    .bind(now)
                    .bind(f.job_id)
                    .bind(i64::from(f.attempt))
                    .execute(&mut *tx)
                    .await?
            }
        };
        Ok(written.rows_affected() == 1)
    }

    /// The jobs just written, by id, and their queues' heads, by queue, in
    /// one read; with `ask` (one job), its head comes with whether another
    /// queue of the scope waits for its turn.
    async fn read_written(
        &self,
        tx: &mut MySqlConnection,
        b: &FinishBatch<'_>,
        now: DateTime<Utc>,
        wrote: &[&JobFinish<'_>],
        ask: bool,
    ) -> Result<(HashMap<i64, Job>, HashMap<String, (Job, bool)>)> {
        let mut written = HashMap::with_capacity(wrote.len());
        let mut heads = HashMap::with_capacity(wrote.len());
        for chunk in wrote.chunks(1 << MAX_ROWS_LOG2) {
            let read = match (ask, chunk) {
                (true, [f]) => sqlx::query(self.batch.written_handing_on.clone())
                    .bind(f.job_id)
                    .bind(b.scope)
                    .bind(f.queue)
                    .bind(now)
                    .bind(now)
                    .bind(b.scope)
                    .bind(f.queue),
                _ => {
                    let (k, results) = padded(chunk);
                    let mut read = sqlx::query(self.batch.written.get(k));
                    for f in results.clone() {
                        read = read.bind(f.job_id);
                    }
                    for f in results {
                        read = read.bind(b.scope).bind(f.queue);
                    }
                    read
                }
            };
            for row in read.fetch_all(&mut *tx).await? {
                let job = job_from_row(&row)?;
                match text(&row, "role")?.as_str() {
                    "written" => {
                        written.insert(job.id, job);
                    }
                    _ => {
                        let others = flag(&row, "others")?;
                        heads.insert(job.queue.clone(), (job, others));
                    }
                }
            }
        }
        Ok((written, heads))
    }

    /// Claims up to `claim.limit` ready queues inside the caller's
    /// transaction, at the server's `now` (see [`claim_walk`]): one that
    /// took no snapshot yet, or a READ COMMITTED one.
    async fn claim_on(
        &self,
        tx: &mut MySqlConnection,
        claim: &QueueClaim<'_>,
        now: DateTime<Utc>,
    ) -> Result<ClaimBatch> {
        let q = &self.q;
        let rows = sqlx::query(q.queue_ready.clone())
            .bind(claim.scope)
            .bind(now)
            .bind(now)
            .bind(i64::from(claim.limit))
            .fetch_all(&mut *tx)
            .await?;
        let ready = rows
            .iter()
            .map(|r| {
                Ok((
                    text(r, "queue")?,
                    r.try_get::<Option<i64>, _>("running_job_id")?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let examined = u32::try_from(ready.len()).unwrap_or(u32::MAX);
        let mut steps = Steps {
            store: self,
            conn: &mut *tx,
            claim,
            now,
        };
        let claimed = claim_walk(&mut steps, claim, now, ready).await?;
        let next_wake = if examined < claim.limit {
            let next: Option<NaiveDateTime> = sqlx::query_scalar(q.queue_next_wake.clone())
                .bind(claim.scope)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            Some(NextWake {
                now,
                next: opt_time(next),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;
    use sqlx::{AssertSqlSafe, Connection, MySqlConnection};

    use super::{BEGIN_READ_COMMITTED, MySqlStore, Store};
    use crate::job::{JobOptions, NewJob};
    use crate::tables::Tables;

    fn url() -> String {
        std::env::var("QUEUETOPIA_TEST_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned())
    }

    /// A batch of 300 creations (chunks of 256, 32, 8 and 4 rows) returns
    /// each job as stored, ids included: with consecutive ids (a step of
    /// one), and row by row when a session's step makes gaps.
    #[tokio::test]
    async fn a_large_batch_returns_each_jobs_id() {
        for step in [1, 2] {
            let prefix = format!("qtu{:x}_", super::super::random_token() % 0xffff_ffff);
            let pool = sqlx::mysql::MySqlPoolOptions::new()
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        let set = format!("SET SESSION auto_increment_increment = {step}");
                        sqlx::raw_sql(AssertSqlSafe(set)).execute(conn).await?;
                        Ok(())
                    })
                })
                .connect(&url())
                .await
                .unwrap();
            let store = MySqlStore::new(pool.clone(), Tables::default().prefix(&prefix));
            store.schema_migrate(crate::SCHEMA_VERSION).await.unwrap();
            let jobs: Vec<NewJob> = (0..300)
                .map(|i| {
                    let queue = format!("q{}", i % 7);
                    NewJob::new(queue, "x", json!({ "i": i }), JobOptions::default()).unwrap()
                })
                .collect();
            let created = store.job_insert("s", &jobs, None, false).await.unwrap();
            for (i, job) in created.jobs.iter().enumerate() {
                assert_eq!(job.params["i"], i, "step {step}");
                let (stored, _) = store.job_get("s", job.id).await.unwrap().unwrap();
                assert_eq!(stored, *job, "step {step}");
            }
            store.schema_migrate(0).await.unwrap();
            let drop = format!("DROP TABLE {prefix}migrations");
            sqlx::raw_sql(AssertSqlSafe(drop))
                .execute(&pool)
                .await
                .unwrap();
        }
    }

    /// Whether the open transaction on `reader` sees a change another
    /// connection commits between two of its reads: READ COMMITTED does,
    /// REPEATABLE READ does not.
    async fn sees_a_later_commit(
        reader: &mut MySqlConnection,
        writer: &mut MySqlConnection,
        table: &str,
    ) -> bool {
        let read = format!("SELECT x FROM {table}");
        let before: i32 = sqlx::query_scalar(AssertSqlSafe(read.clone()))
            .fetch_one(&mut *reader)
            .await
            .unwrap();
        sqlx::raw_sql(AssertSqlSafe(format!("UPDATE {table} SET x = x + 1")))
            .execute(&mut *writer)
            .await
            .unwrap();
        let after: i32 = sqlx::query_scalar(AssertSqlSafe(read.clone()))
            .fetch_one(&mut *reader)
            .await
            .unwrap();
        after != before
    }

    /// Results with a claim run READ COMMITTED on a connection whose default
    /// is REPEATABLE READ, set in the same round trip as the start; the
    /// transaction after them runs at the session's level again.
    #[tokio::test]
    async fn begin_read_committed_overrides_the_sessions_level() {
        let url = std::env::var("QUEUETOPIA_TEST_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned());
        let table = format!(
            "qtu{:x}_isolation",
            super::super::random_token() % 0xffff_ffff
        );
        let mut reader = MySqlConnection::connect(&url).await.unwrap();
        let mut writer = MySqlConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(AssertSqlSafe(format!(
            "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ; \
             CREATE TABLE {table} (x INT) ENGINE = InnoDB; INSERT INTO {table} VALUES (0)"
        )))
        .execute(&mut reader)
        .await
        .unwrap();
        let mut tx = reader.begin_with(BEGIN_READ_COMMITTED).await.unwrap();
        let read_committed = sees_a_later_commit(&mut tx, &mut writer, &table).await;
        tx.rollback().await.unwrap();
        let mut tx = reader.begin().await.unwrap();
        let repeatable = !sees_a_later_commit(&mut tx, &mut writer, &table).await;
        tx.rollback().await.unwrap();
        sqlx::raw_sql(AssertSqlSafe(format!("DROP TABLE {table}")))
            .execute(&mut writer)
            .await
            .unwrap();
        assert!(read_committed, "BEGIN_READ_COMMITTED runs READ COMMITTED");
        assert!(
            repeatable,
            "the next transaction runs REPEATABLE READ again"
        );
    }
}
