//! Storing: one trait of queue operations, implemented once per database.
//!
//! The core (the scheduler and the [`crate::Queuetopia`] handle) decides what
//! happens; a backend only reads and writes, each with its own SQL, kept in
//! `sql/` beside it.
//!
//! Each queue has one row besides its jobs. It hands out the jobs' sequence
//! numbers, holds the queue's lock (`locked_by`, `locked_until`, `lock_token`,
//! `running_job_id`), and caches `ready_at`: the earliest time the queue may
//! have work to run, never later than the truth. Claiming reads only the
//! queues whose `ready_at` has come, so its cost grows with the number of
//! ready queues, not with the number of jobs; a claim that finds the cache
//! too early corrects it. Every write that changes a queue's head recomputes
//! the cache from the jobs table while it holds the queue row's lock.

use crate::backend::{Backend, Capabilities};
use crate::error::Result;
use crate::job::Job;
use crate::list::QueueInfo;
use crate::operator::AuditEntry;

mod dispatch;
pub mod ops;
pub use ops::*;
#[cfg(any(feature = "sqlite", feature = "mysql"))]
mod queue_rule;
pub(crate) use dispatch::StoreKind;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
mod mru_connections;
#[cfg(any(feature = "sqlite", feature = "mysql"))]
mod multi_row;
#[cfg(feature = "mysql")]
pub(crate) mod mysql;
#[cfg(all(feature = "mysql", feature = "store-conformance"))]
pub use mysql::BEGIN_READ_COMMITTED;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;

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

/// The operations every backend provides, each with one parameter struct
/// (see [`ops`]).
///
/// The set of backends is closed, so the store a [`crate::Db`] holds is an
/// enum of them (`StoreKind`) whose calls go to the backend's own methods
/// by a `match`, not through a `dyn Store` whose every call would box its
/// future (see ARCHITECTURE.md, "The storage seam").
#[allow(async_fn_in_trait)]
pub trait Store: Send + Sync + 'static {
    /// Which database this is.
    fn backend(&self) -> Backend;

    /// What it can do, where backends differ.
    fn capabilities(&self) -> Capabilities;

    /// The last version of this backend's schema (of its last migration).
    fn schema_latest(&self) -> u32;

    /// The schema version in the database (0 when never migrated).
    async fn schema_version(&self) -> Result<u32>;

    /// Migrates the schema up or down to the target version.
    async fn schema_migrate(&self, op: SchemaMigrate) -> Result<()>;

    /// Creates jobs, in order; returns them as stored, in the same order.
    async fn job_insert(&self, op: JobInsert<'_>) -> Result<Inserted>;

    /// Locks up to `limit` ready queues and counts an attempt of each one's
    /// head; when fewer were ready, tells when the next one will be.
    async fn queue_claim(&self, op: QueueClaim<'_>) -> Result<ClaimBatch>;

    /// Writes attempts' results, each releasing (or keeping) its queue's
    /// lock, and with `batch.next` claims the freed slots' next queues, all
    /// in one transaction. A result whose lock is no longer its attempt's
    /// is refused alone ([`Written::Lost`]); unless `batch.wait`, one whose
    /// queue row another transaction holds is left alone
    /// ([`Written::Busy`]); an error of the transaction fails them all, and
    /// nothing is written.
    async fn job_finish(&self, batch: FinishBatch<'_>) -> Result<Finished>;

    /// One job, with whether it is running now.
    async fn job_get(&self, op: JobGet<'_>) -> Result<Option<(Job, bool)>>;

    /// Jobs matching the filter, newest first, each with whether it is
    /// running now.
    async fn job_list(&self, op: JobList<'_>) -> Result<Vec<(Job, bool)>>;

    /// The queues of the scope that have jobs not done nor given up, or a lock.
    async fn queue_list(&self, op: QueueList<'_>) -> Result<Vec<QueueInfo>>;

    /// An operator's action on a job; returns the job as updated.
    async fn job_act(&self, op: JobAct<'_>) -> Result<Job>;

    /// An operator's pause or resume of a queue. Pausing a queue that has
    /// no row yet (no job so far) makes its row, paused.
    async fn queue_pause(&self, op: QueuePause<'_>) -> Result<()>;

    /// A page of the scope's audit, newest first.
    async fn audit_list(&self, op: AuditList<'_>) -> Result<Vec<AuditEntry>>;

    /// Deletes old audit entries; returns how many.
    async fn audit_delete_old(&self, op: DeleteOlder<'_>) -> Result<u64>;

    /// Deletes old done jobs; returns how many.
    async fn job_delete_done(&self, op: DeleteOlder<'_>) -> Result<u64>;

    /// Extends the lease of a running attempt to `now + lease`; false when
    /// the lock is no longer this attempt's (another node took the queue).
    async fn lock_renew(&self, op: LockRenewal<'_>) -> Result<bool>;

    /// Deletes rows of queues with nothing left; returns how many.
    async fn queue_prune(&self, op: QueuePrune<'_>) -> Result<u64>;

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

    /// Releases a node's locks that have no running attempt; returns how many.
    async fn lock_release_all(&self, op: LockReleaseAll<'_>) -> Result<u64>;
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

/// The version the last of `migrations` brings the schema to.
pub(crate) fn latest_version(migrations: &[Migration]) -> u32 {
    migrations.last().map_or(0, |m| m.version)
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
mod tests {
    use super::*;

    #[test]
    fn tokens_differ() {
        assert_ne!(random_token(), random_token());
        assert!(random_token() >= 0);
    }
}
