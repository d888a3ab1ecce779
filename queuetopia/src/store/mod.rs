//! Storing: one trait of queue operations, implemented once per database.
//!
//! The core (the scheduler and the [`crate::Queuetopia`] handle) decides what
//! happens; a backend only reads and writes, each with its own SQL, kept in
//! `sql/` beside it. Every operation that depends on time takes `now`: `None`
//! means the database's clock, `Some` a pinned [`crate::Clock`].
//!
//! Each queue has one row besides its jobs. It hands out the jobs' sequence
//! numbers, holds the queue's lock (`locked_by`, `locked_until`, `lock_token`,
//! `running_job_id`), and caches `ready_at`: the earliest time the queue may
//! have work to run, never later than the truth. Claiming reads only the
//! queues whose `ready_at` has come, so its cost grows with the number of
//! ready queues, not with the number of jobs; a claim that finds the cache
//! too early corrects it. Every write that changes a queue's head recomputes
//! the cache from the jobs table while it holds the queue row's lock.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::backend::{Backend, Capabilities};
use crate::error::Result;
use crate::job::{Job, NewJob};
use crate::list::{JobFilter, QueueInfo};

mod dispatch;
#[cfg(any(feature = "sqlite", feature = "mysql"))]
mod queue_rule;
pub(crate) use dispatch::StoreKind;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
mod mru_connections;
#[cfg(any(feature = "sqlite", feature = "mysql"))]
mod multi_row;
#[cfg(feature = "mysql")]
pub(crate) mod mysql;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;

/// A claim: lock up to `limit` ready queues of `scope` for `node`.
pub(crate) struct QueueClaim<'a> {
    pub(crate) scope: &'a str,
    pub(crate) node: &'a str,
    pub(crate) limit: u32,
    pub(crate) now: Option<DateTime<Utc>>,
    /// Written into each lock taken, and checked by every result written under it.
    pub(crate) token: i64,
    pub(crate) lease_margin: Duration,
    /// When set, leases last at most this long and the attempt renews them.
    pub(crate) lease_cap: Option<Duration>,
}

impl QueueClaim<'_> {
    /// How long the lease of an attempt of `job` lasts.
    #[cfg(any(feature = "sqlite", feature = "mysql"))]
    pub(crate) fn lease(&self, job: &Job) -> Duration {
        lease(job, self.lease_margin, self.lease_cap)
    }
}

/// How long the lease of an attempt of `job` lasts: its timeout plus the
/// margin, or less when leases are renewed.
pub(crate) fn lease(job: &Job, margin: Duration, cap: Option<Duration>) -> Duration {
    let full = job.timeout + margin;
    cap.map_or(full, |cap| cap.min(full))
}

/// Jobs just created.
#[derive(Debug)]
pub(crate) struct Inserted {
    /// The jobs as stored, in the order asked for.
    pub(crate) jobs: Vec<Job>,
    /// Some queue they went to may be claimed now: schedulers should look.
    /// False when every such queue is busy running a job (its end wakes the
    /// scheduler) or waits for a later time, so that a burst of creations
    /// into busy queues wakes nobody.
    pub(crate) wake: bool,
}

/// A job whose queue a claim has locked.
#[derive(Debug)]
pub(crate) struct Claimed {
    /// The job, with `attempts` already counting the new attempt (unless abandoned).
    pub(crate) job: Job,
    /// The job's last attempt was abandoned (its node's lease ran out without
    /// a result): the claimer must record that failure, not run the job.
    pub(crate) abandoned: bool,
}

/// When an idle scheduler should look again.
#[derive(Debug)]
pub(crate) struct NextWake {
    /// The database's now (or the pinned clock's).
    pub(crate) now: DateTime<Utc>,
    /// The earliest future `ready_at` of the scope's queues.
    pub(crate) next: Option<DateTime<Utc>>,
}

/// What a claim took.
#[derive(Debug, Default)]
pub(crate) struct ClaimBatch {
    /// The jobs whose queues it locked.
    pub(crate) claimed: Vec<Claimed>,
    /// How many ready queues it looked at: when that is the limit, more may
    /// be ready.
    pub(crate) examined: u32,
    /// When fewer than the limit were ready: when the next queue becomes
    /// ready, read in the same transaction (so with the same "now").
    pub(crate) next_wake: Option<NextWake>,
}

/// A renewal of a running attempt's lease.
pub(crate) struct LockRenewal<'a> {
    pub(crate) scope: &'a str,
    pub(crate) queue: &'a str,
    pub(crate) job_id: i64,
    pub(crate) node: &'a str,
    pub(crate) token: i64,
    pub(crate) lease: Duration,
    pub(crate) now: Option<DateTime<Utc>>,
}

/// The result of one attempt, to be written under the queue's lock.
pub(crate) struct JobFinish<'a> {
    pub(crate) queue: &'a str,
    pub(crate) job_id: i64,
    pub(crate) attempt: u32,
    /// The token of the lock the attempt ran under.
    pub(crate) token: i64,
    pub(crate) outcome: Outcome<'a>,
}

impl JobFinish<'_> {
    /// A failed attempt whose queue keeps its lock until the lease runs out.
    #[cfg(any(feature = "sqlite", feature = "mysql"))]
    pub(crate) fn keeps_lock(&self) -> bool {
        matches!(
            self.outcome,
            Outcome::Failed {
                keep_lock: true,
                ..
            }
        )
    }
}

/// Results of one node's attempts, written in one transaction (one commit
/// for all), in queue order (the order their rows are locked in); with
/// `next`, the claim of up to `next.limit` queues for the freed slots rides
/// in the same transaction.
pub(crate) struct FinishBatch<'a> {
    pub(crate) scope: &'a str,
    pub(crate) node: &'a str,
    pub(crate) now: Option<DateTime<Utc>>,
    pub(crate) results: Vec<JobFinish<'a>>,
    pub(crate) next: Option<NextClaim>,
    /// Wait for queue rows that other transactions hold. Without it, such a
    /// result comes back [`Written::Busy`] and the claim takes one queue
    /// fewer for it, where the backend locks rows (PostgreSQL, MySQL).
    #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
    pub(crate) wait: bool,
}

impl<'a> FinishBatch<'a> {
    /// The claim, for the same node, that goes with these results.
    pub(crate) fn next_claim(&self) -> Option<QueueClaim<'a>> {
        self.next.map(|next| QueueClaim {
            scope: self.scope,
            node: self.node,
            limit: next.limit,
            now: self.now,
            token: next.token,
            lease_margin: next.lease_margin,
            lease_cap: next.lease_cap,
        })
    }
}

/// The claim that goes with results: up to `limit` queues, for the same node.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NextClaim {
    pub(crate) limit: u32,
    pub(crate) token: i64,
    pub(crate) lease_margin: Duration,
    pub(crate) lease_cap: Option<Duration>,
}

/// Results as written, with the claim that went with them.
pub(crate) struct Finished {
    /// One per result, in the order given.
    pub(crate) jobs: Vec<Written>,
    /// The jobs whose queues the claim locked: at most `next.limit` less
    /// the busy results.
    pub(crate) next: Vec<Claimed>,
}

/// What became of one result of a batch.
#[derive(Debug)]
pub(crate) enum Written {
    /// Written: the job as stored.
    Stored(Box<Job>),
    /// Refused: the queue's lock is no longer the attempt's; nothing written.
    Lost,
    /// Not tried: another transaction holds the queue's row (see
    /// [`FinishBatch::wait`]); nothing written.
    #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
    Busy,
}

/// What an attempt came to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome<'a> {
    /// It succeeded.
    Done,
    /// It failed.
    Failed {
        error: &'a str,
        /// Delay before the next attempt.
        backoff: Duration,
        /// The job is given up (used all its attempts, policy `skip`).
        give_up: bool,
        /// Keep the queue locked until the lease runs out (a timed-out attempt
        /// may still be running somewhere).
        keep_lock: bool,
    },
}

/// An operator's action on one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobAction {
    /// Make a failed, held or given-up job runnable now.
    Retry,
    /// Give up a job that is not running or done, so its queue moves on.
    Skip,
}

impl JobAction {
    /// Why the action was refused when its update matched no job.
    pub(crate) fn refusal(self) -> &'static str {
        match self {
            JobAction::Retry => "it is done",
            JobAction::Skip => "it is already done or given up",
        }
    }
}

/// The migrations to run to go from version `current` to `target`, in
/// order, each with whether it goes up.
pub(crate) fn migration_steps(
    migrations: &'static [Migration],
    current: u32,
    target: u32,
) -> Vec<(&'static Migration, bool)> {
    let up = migrations
        .iter()
        .filter(|m| m.version > current && m.version <= target)
        .map(|m| (m, true));
    let down = migrations
        .iter()
        .rev()
        .filter(|m| m.version <= current && m.version > target)
        .map(|m| (m, false));
    up.chain(down).collect()
}

/// The operations every backend provides.
///
/// The set of backends is closed, so the store a [`crate::Db`] holds is an
/// enum of them ([`StoreKind`]) whose calls go to the backend's own methods
/// by a `match`, not through a `dyn Store` whose every call would box its
/// future (see ARCHITECTURE.md, "The storage seam").
#[allow(async_fn_in_trait)]
pub(crate) trait Store: Send + Sync + 'static {
    /// Which database this is.
    fn backend(&self) -> Backend;

    /// What it can do, where backends differ.
    fn capabilities(&self) -> Capabilities;

    /// The schema version in the database (0 when never migrated).
    async fn schema_version(&self) -> Result<u32>;

    /// Migrates the schema up or down to `target`.
    async fn schema_migrate(&self, target: u32) -> Result<()>;

    /// Creates jobs in `scope`, in order; returns them as stored, in the same
    /// order. With `notify`, other nodes are told when a queue becomes
    /// claimable, where the backend can (PostgreSQL).
    async fn job_insert(
        &self,
        scope: &str,
        jobs: &[NewJob],
        now: Option<DateTime<Utc>>,
        notify: bool,
    ) -> Result<Inserted>;

    /// Locks up to `limit` ready queues and counts an attempt of each one's
    /// head; when fewer were ready, tells when the next one will be.
    async fn queue_claim(&self, claim: QueueClaim<'_>) -> Result<ClaimBatch>;

    /// Writes attempts' results, each releasing (or keeping) its queue's
    /// lock, and with `batch.next` claims the freed slots' next queues, all
    /// in one transaction. A result whose lock is no longer its attempt's
    /// is refused alone ([`Written::Lost`]); unless `batch.wait`, one whose
    /// queue row another transaction holds is left alone
    /// ([`Written::Busy`]); an error of the transaction fails them all, and
    /// nothing is written.
    async fn job_finish(&self, batch: FinishBatch<'_>) -> Result<Finished>;

    /// One job of the scope, with whether it is running now.
    async fn job_get(&self, scope: &str, id: i64) -> Result<Option<(Job, bool)>>;

    /// Jobs of the scope matching `filter`, newest first, each with whether
    /// it is running now.
    async fn job_list(&self, scope: &str, filter: &JobFilter) -> Result<Vec<(Job, bool)>>;

    /// The queues of the scope that have jobs not done nor given up, or a lock.
    async fn queue_list(&self, scope: &str, now: Option<DateTime<Utc>>) -> Result<Vec<QueueInfo>>;

    /// An operator's action on a job; returns the job as updated.
    async fn job_act(
        &self,
        scope: &str,
        id: i64,
        action: JobAction,
        now: Option<DateTime<Utc>>,
    ) -> Result<Job>;

    /// Deletes up to `limit` done jobs older than `older_than`; returns how many.
    async fn job_delete_done(
        &self,
        scope: &str,
        older_than: Duration,
        limit: u32,
        now: Option<DateTime<Utc>>,
    ) -> Result<u64>;

    /// Extends the lease of a running attempt to `now + lease`; false when
    /// the lock is no longer this attempt's (another node took the queue).
    async fn lock_renew(&self, renewal: LockRenewal<'_>) -> Result<bool>;

    /// Deletes up to `limit` rows of queues with nothing left (no open job,
    /// no lock); returns how many.
    async fn queue_prune(&self, scope: &str, limit: u32, now: Option<DateTime<Utc>>)
    -> Result<u64>;

    /// Starts listening for creations on other nodes (PostgreSQL's
    /// LISTEN/NOTIFY): `on_wake` runs for each one in `scope`, and after each
    /// reconnection (notifications sent while disconnected are lost). `None`
    /// where the backend has no notifications: polling alone then finds work
    /// created elsewhere.
    fn spawn_listener(
        &self,
        scope: &str,
        on_wake: std::sync::Arc<dyn Fn() + Send + Sync>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let _ = (scope, on_wake);
        None
    }

    /// Releases every lock `node` holds in `scope` without a running attempt
    /// (after a clean shutdown).
    async fn lock_release_all(&self, scope: &str, node: &str) -> Result<u64>;
}

/// A random 63-bit token, without a dependency on a random number crate.
pub(crate) fn random_token() -> i64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (h.finish() >> 1) as i64
}

/// One step of the schema, with the SQL that undoes it.
pub(crate) struct Migration {
    pub(crate) version: u32,
    pub(crate) up: &'static str,
    pub(crate) down: &'static str,
}

/// A SQL statement rendered for a table placement, cheap to clone.
pub(crate) fn sql(tables: &crate::tables::Tables, text: &str) -> sqlx::SqlStr {
    use sqlx::SqlSafeStr;
    let rendered: std::sync::Arc<str> = tables.render(text).into();
    // Safe: the text is the library's own SQL, and the only names put into
    // it are checked identifiers (see `Tables::check`).
    sqlx::AssertSqlSafe(rendered).into_sql_str()
}

/// Declares a backend's `Queries`: each field is the SQL file
/// `sql/<field>.sql` beside the backend, rendered for the table placement.
macro_rules! queries {
    ($($name:ident),* $(,)?) => {
        /// The backend's SQL, rendered for its table placement.
        pub(crate) struct Queries {
            $(pub(crate) $name: sqlx::SqlStr,)*
        }

        impl Queries {
            pub(crate) fn new(tables: &crate::tables::Tables) -> Self {
                Queries {
                    $($name: crate::store::sql(
                        tables,
                        include_str!(concat!("sql/", stringify!($name), ".sql")),
                    ),)*
                }
            }
        }
    };
}
pub(crate) use queries;

/// Declares a backend's migrations: `version => "name"` for the scripts
/// `migrations/<name>.up.sql` and `.down.sql` beside the backend.
macro_rules! migrations {
    ($($version:literal => $name:literal),* $(,)?) => {
        &[$(crate::store::Migration {
            version: $version,
            up: include_str!(concat!("migrations/", $name, ".up.sql")),
            down: include_str!(concat!("migrations/", $name, ".down.sql")),
        }),*]
    };
}
pub(crate) use migrations;

#[cfg(test)]
mod batch_tests;

/// The test databases of the library's own store checks: the servers of
/// `scripts/services`, or those the environment names (as in `tests/`).
#[cfg(test)]
pub(crate) fn test_url(backend: crate::Backend) -> Option<String> {
    let (var, default) = match backend {
        crate::Backend::Postgres => (
            "QUEUETOPIA_TEST_POSTGRES_URL",
            "postgres://postgres@127.0.0.1:5432/test",
        ),
        crate::Backend::MySql => (
            "QUEUETOPIA_TEST_MYSQL_URL",
            "mysql://root@127.0.0.1:3306/test",
        ),
        _ => return None,
    };
    Some(std::env::var(var).unwrap_or_else(|_| default.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_differ() {
        assert_ne!(random_token(), random_token());
        assert!(random_token() >= 0);
    }
}
