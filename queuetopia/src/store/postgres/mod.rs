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
use super::{
    ClaimBatch, Claimed, FinishBatch, Finished, Inserted, JobAction, JobFinish, LockRenewal,
    Migration, NextWake, Outcome, QueueClaim, Store, Written,
};
use crate::backend::{Backend, Capabilities};
use crate::error::{Error, Result};
use crate::job::{ExhaustionPolicy, Job, NewJob, Schedule, duration, millis};
use crate::list::{JobFilter, QueueInfo, QueueRow};
use crate::tables::Tables;

super::queries!(
    claim,
    finish,
    finish_one,
    job_by_ids,
    job_delete_done,
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
    queue_prune,
    queue_refresh,
    schema_exists,
    schema_version,
);

const MIGRATIONS: &[Migration] = super::migrations![
    1 => "0001_init",
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

async fn insert<'e, E: Executor<'e, Database = Postgres>>(
    sql: &Sql,
    executor: E,
    scope: &str,
    jobs: &[NewJob],
    now: Option<DateTime<Utc>>,
    channel: Option<&str>,
) -> Result<Inserted> {
    let query = match jobs {
        [] => {
            return Ok(Inserted {
                jobs: Vec::new(),
                wake: false,
            });
        }
        [job] => insert_one(sql, scope, job),
        _ => insert_many(sql, scope, jobs),
    };
    let rows = query.bind(now).bind(channel).fetch_all(executor).await?;
    let wake = match rows.first() {
        Some(row) => row.try_get::<Option<bool>, _>("wake")?.unwrap_or(false),
        None => false,
    };
    Ok(Inserted {
        jobs: created_jobs(scope, jobs, &rows)?,
        wake,
    })
}

type PgQuery = sqlx::query::Query<'static, Postgres, PgArguments>;

/// `job_insert_one.sql` with one job bound, all but the clock and channel.
fn insert_one(sql: &Sql, scope: &str, job: &NewJob) -> PgQuery {
    let o = &job.options;
    let (at, delay) = schedule(o.schedule);
    sql.query(|q| &q.job_insert_one)
        .bind(scope)
        .bind(&job.queue)
        .bind(&job.action)
        .bind(Value::Object(job.params.clone()).to_string())
        .bind(at)
        .bind(delay)
        .bind(millis(o.timeout))
        .bind(millis(o.max_backoff))
        .bind(int4(o.max_attempts))
        .bind(o.on_exhausted.map(ExhaustionPolicy::as_str))
}

/// `job_insert.sql` with the jobs bound as one array per column, all but
/// the clock and channel.
fn insert_many(sql: &Sql, scope: &str, jobs: &[NewJob]) -> PgQuery {
    let n = jobs.len();
    let mut queues = Vec::with_capacity(n);
    let mut actions = Vec::with_capacity(n);
    let mut params = Vec::with_capacity(n);
    let mut scheduled = Vec::with_capacity(n);
    let mut delays = Vec::with_capacity(n);
    let mut timeouts = Vec::with_capacity(n);
    let mut backoffs = Vec::with_capacity(n);
    let mut max_attempts = Vec::with_capacity(n);
    let mut policies = Vec::with_capacity(n);
    for job in jobs {
        let o = &job.options;
        let (at, delay) = schedule(o.schedule);
        queues.push(job.queue.as_str());
        actions.push(job.action.as_str());
        params.push(Value::Object(job.params.clone()).to_string());
        scheduled.push(at);
        delays.push(delay);
        timeouts.push(millis(o.timeout));
        backoffs.push(millis(o.max_backoff));
        max_attempts.push(int4(o.max_attempts));
        policies.push(o.on_exhausted.map(ExhaustionPolicy::as_str));
    }
    sql.query(|q| &q.job_insert)
        .bind(scope)
        .bind(queues)
        .bind(actions)
        .bind(params)
        .bind(scheduled)
        .bind(delays)
        .bind(timeouts)
        .bind(backoffs)
        .bind(max_attempts)
        .bind(policies)
}

/// A job's schedule as the creation functions take it: a time, or a delay
/// in milliseconds, or neither for "now".
fn schedule(schedule: Schedule) -> (Option<DateTime<Utc>>, Option<i64>) {
    match schedule {
        Schedule::Now => (None, None),
        Schedule::At(t) => (Some(t), None),
        Schedule::In(d) => (None, Some(millis(d))),
    }
}

/// A count as PostgreSQL's `integer` holds it (counts are checked to fit).
fn int4(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The jobs a creation stored, in the order asked for. The functions return
/// what the server decided for each job (id, sequence, times) with its
/// queue; inside a queue, sequence numbers follow the order asked for, which
/// pairs each row with its job whatever order the rows come in.
fn created_jobs(scope: &str, asked: &[NewJob], rows: &[PgRow]) -> Result<Vec<Job>> {
    struct Created<'r> {
        id: i64,
        queue: &'r str,
        sequence: i64,
        scheduled_at: DateTime<Utc>,
        inserted_at: DateTime<Utc>,
    }
    let mut created = rows
        .iter()
        .map(|row| {
            Ok(Created {
                id: row.try_get("id")?,
                queue: row.try_get("queue")?,
                sequence: row.try_get("sequence")?,
                scheduled_at: row.try_get("scheduled_at")?,
                inserted_at: row.try_get("inserted_at")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    created.sort_unstable_by(|a, b| (a.queue, a.sequence).cmp(&(b.queue, b.sequence)));
    // Each queue's next row: the first of its run, then one on per job.
    let mut next: HashMap<&str, usize> = HashMap::new();
    for (i, c) in created.iter().enumerate().rev() {
        next.insert(c.queue, i);
    }
    asked
        .iter()
        .map(|job| {
            let c = next
                .get_mut(job.queue.as_str())
                .and_then(|i| {
                    let c = created.get(*i).filter(|c| c.queue == job.queue);
                    *i += 1;
                    c
                })
                .ok_or_else(|| Error::unexpected("a creation returned fewer jobs than asked"))?;
            Ok(job.stored(scope, c.id, c.sequence, c.scheduled_at, c.inserted_at))
        })
        .collect()
}

fn job_from_row(row: &PgRow) -> Result<Job> {
    let params = match row.try_get::<Value, _>("params")? {
        Value::Object(map) => map,
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
        scheduled_at: row.try_get("scheduled_at")?,
        timeout: duration(row.try_get("timeout_ms")?),
        max_backoff: duration(row.try_get("max_backoff_ms")?),
        max_attempts: count(row.try_get("max_attempts")?),
        on_exhausted: policy.as_deref().and_then(ExhaustionPolicy::parse),
        attempts: count(row.try_get("attempts")?),
        attempted_at: row.try_get("attempted_at")?,
        attempted_by: row.try_get("attempted_by")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        done_at: row.try_get("done_at")?,
        given_up_at: row.try_get("given_up_at")?,
        error: row.try_get("error")?,
        inserted_at: row.try_get("inserted_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

/// Reads what `queuetopia_claim` returns: a row per claimed job, then one
/// row `examined` (see `sql/functions/claim.sql`).
fn claim_rows(rows: &[PgRow]) -> Result<ClaimBatch> {
    let mut batch = ClaimBatch {
        claimed: Vec::new(),
        examined: 0,
        next_wake: None,
    };
    for row in rows {
        let role: String = row.try_get("role")?;
        if role == "claimed" {
            batch.claimed.push(Claimed {
                job: job_from_row(row)?,
                abandoned: row.try_get("abandoned")?,
            });
        } else {
            let examined: i32 = row.try_get("examined")?;
            batch.examined = u32::try_from(examined).unwrap_or(0);
            let now: Option<DateTime<Utc>> = row.try_get("wake_now")?;
            batch.next_wake = now.map(|now| NextWake {
                now,
                next: row.try_get("wake_next").ok().flatten(),
            });
        }
    }
    Ok(batch)
}

/// Runs the queue_refresh statement: see `sql/queue_refresh.sql`.
async fn refresh(
    sql: &Sql,
    conn: &mut PgConnection,
    scope: &str,
    queue: &str,
    now: Option<DateTime<Utc>>,
    release_lock: bool,
    clear_running: bool,
) -> Result<()> {
    sql.query(|q| &q.queue_refresh)
        .bind(scope)
        .bind(queue)
        .bind(now)
        .bind(release_lock)
        .bind(clear_running)
        .execute(conn)
        .await?;
    Ok(())
}

/// A result's outcome as the finish functions take it: succeeded, error,
/// backoff (ms), give up, keep the lock.
fn result_params<'a>(f: &JobFinish<'a>) -> (bool, Option<&'a str>, i64, bool, bool) {
    match f.outcome {
        Outcome::Done => (true, None, 0, false, false),
        Outcome::Failed {
            error,
            backoff,
            give_up,
            keep_lock,
        } => (false, Some(error), millis(backoff), give_up, keep_lock),
    }
}

/// `finish_one.sql` with one result bound, all but the next claim's
/// parameters.
fn finish_one(sql: &Sql, b: &FinishBatch<'_>, f: &JobFinish<'_>) -> PgQuery {
    let (ok, error, backoff, give_up, keep_lock) = result_params(f);
    sql.query(|q| &q.finish_one)
        .bind(b.scope)
        .bind(b.node)
        .bind(b.now)
        .bind(f.queue)
        .bind(f.job_id)
        .bind(f.token)
        .bind(int4(f.attempt))
        .bind(ok)
        .bind(error)
        .bind(backoff)
        .bind(give_up)
        .bind(keep_lock)
}

/// `finish.sql` with the results bound as one array per column, all but the
/// next claim's parameters.
fn finish_many(sql: &Sql, b: &FinishBatch<'_>) -> PgQuery {
    let n = b.results.len();
    let (mut queues, mut ids, mut tokens, mut attempts) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut oks, mut errors, mut backoffs, mut give_ups, mut keep_locks) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for f in &b.results {
        let (ok, error, backoff, give_up, keep_lock) = result_params(f);
        queues.push(f.queue);
        ids.push(f.job_id);
        tokens.push(f.token);
        attempts.push(int4(f.attempt));
        oks.push(ok);
        errors.push(error);
        backoffs.push(backoff);
        give_ups.push(give_up);
        keep_locks.push(keep_lock);
    }
    sql.query(|q| &q.finish)
        .bind(b.scope)
        .bind(b.node)
        .bind(b.now)
        .bind(queues)
        .bind(ids)
        .bind(tokens)
        .bind(attempts)
        .bind(oks)
        .bind(errors)
        .bind(backoffs)
        .bind(give_ups)
        .bind(keep_locks)
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

    async fn schema_migrate(&self, target: u32) -> Result<()> {
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

    async fn job_insert(
        &self,
        scope: &str,
        jobs: &[NewJob],
        now: Option<DateTime<Utc>>,
        notify: bool,
    ) -> Result<Inserted> {
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

    async fn job_get(&self, scope: &str, id: i64) -> Result<Option<(Job, bool)>> {
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

    async fn job_list(&self, scope: &str, filter: &JobFilter) -> Result<Vec<(Job, bool)>> {
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
            .fetch_all(s.conn())
            .await?;
        s.done().await?;
        rows.iter()
            .map(|r| Ok((job_from_row(r)?, r.try_get("running")?)))
            .collect()
    }

    async fn queue_list(&self, scope: &str, now: Option<DateTime<Utc>>) -> Result<Vec<QueueInfo>> {
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
                }
                .into_info(),
            );
        }
        Ok(out)
    }

    async fn job_act(
        &self,
        scope: &str,
        id: i64,
        action: JobAction,
        now: Option<DateTime<Utc>>,
    ) -> Result<Job> {
        let mut tx = self.pool.begin().await?;
        let queue: Option<String> = self
            .sql
            .scalar(|q| &q.job_queue)
            .bind(scope)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(queue) = queue else {
            return Err(Error::JobNotFound(id));
        };
        let running: Option<bool> = self
            .sql
            .scalar(|q| &q.queue_lock_row)
            .bind(scope)
            .bind(&queue)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if running == Some(true) {
            return Err(Error::JobState {
                id,
                reason: "an attempt of it is running",
            });
        }
        let sql = match action {
            JobAction::Retry => self.sql.q.job_retry.clone(),
            JobAction::Skip => self.sql.q.job_skip.clone(),
        };
        let row = sqlx::query(sql)
            .persistent(self.sql.cached)
            .bind(scope)
            .bind(id)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Err(Error::JobState {
                id,
                reason: action.refusal(),
            });
        };
        let job = job_from_row(&row)?;
        refresh(&self.sql, &mut tx, scope, &queue, now, false, false).await?;
        if let Some(channel) = self.channel().await? {
            self.sql
                .query(|q| &q.notify)
                .bind(channel)
                .bind(scope)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(job)
    }

    async fn job_delete_done(
        &self,
        scope: &str,
        older_than: Duration,
        limit: u32,
        now: Option<DateTime<Utc>>,
    ) -> Result<u64> {
        let mut s = self.session().await?;
        let done = self
            .sql
            .query(|q| &q.job_delete_done)
            .bind(scope)
            .bind(now)
            .bind(millis(older_than))
            .bind(i64::from(limit))
            .execute(s.conn())
            .await?;
        s.done().await?;
        Ok(done.rows_affected())
    }

    async fn queue_prune(
        &self,
        scope: &str,
        limit: u32,
        now: Option<DateTime<Utc>>,
    ) -> Result<u64> {
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

    async fn lock_release_all(&self, scope: &str, node: &str) -> Result<u64> {
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
