//! Queuetopia: a persistent, **blocking**, ordered job queue on SQL databases.
//!
//! Applications often need work that runs in order per entity: "all mails of
//! account 42, one after the other, never two at once, and if one fails, the
//! rest wait". Queuetopia keeps such jobs in one table of your database and
//! runs them:
//!
//! - **in order**: a queue (any name, created by its first job) runs its jobs
//!   one at a time, by `(scheduled_at, sequence)`;
//! - **blocking**: a failing job stays at the head of its queue and is retried
//!   with backoff; nothing behind it runs until it succeeds or uses up its
//!   attempts (then it is given up, or the queue is held for an operator);
//! - **isolated**: a slow, failing, timed-out or panicking job delays only its
//!   own queue;
//! - **on many nodes**: any number of processes may run the same queues; a
//!   queue's lock, with a lease on the database's clock, keeps it on one node
//!   at a time, and a crashed node's queues resume when their lease runs out;
//! - **at once**: creating a job wakes the scheduler; polling is the safety net;
//! - **in your transaction**: a job created in the caller's own sqlx
//!   transaction takes its place when that transaction commits.
//!
//! # Quick start
//!
//! ```
//! use std::time::Duration;
//! use queuetopia::{Job, JobError, JobOptions, Performer, Queuetopia};
//! use serde_json::json;
//!
//! struct Mailer;
//!
//! impl Performer for Mailer {
//!     async fn perform(&self, job: &Job) -> Result<(), JobError> {
//!         match job.action.as_str() {
//!             "send_welcome" => Ok(()), // send it; an Err retries with backoff
//!             other => Err(JobError::new(format!("unknown action {other}"))),
//!         }
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> queuetopia::Result<()> {
//! # let dir = std::env::temp_dir().join(format!("qt-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! # let url = format!("sqlite://{}/quickstart.db", dir.display());
//! // "postgres://…" works the same; or pass a sqlx pool you already have.
//! let db = queuetopia::connect(&url).await?;
//! db.migrate().await?;
//!
//! let mail = Queuetopia::builder(db, Mailer)
//!     .scope("mail")
//!     .poll_interval(Duration::from_secs(60))
//!     .max_concurrent_jobs(50)
//!     .start()
//!     .await?;
//!
//! let job = mail
//!     .create_job(
//!         "account:42",
//!         "send_welcome",
//!         json!({"to": "a@b.c"}),
//!         JobOptions::default().timeout(Duration::from_secs(5)).max_attempts(5),
//!     )
//!     .await?;
//! # let mut events = mail.subscribe();
//! # mail.wake();
//! # while mail.get_job(job.id).await?.job.done_at.is_none() {
//! #     let _ = tokio::time::timeout(Duration::from_millis(100), events.recv()).await;
//! # }
//!
//! mail.shutdown(Duration::from_secs(30)).await?;
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(())
//! # }
//! ```
//!
//! # Where things happen
//!
//! `ARCHITECTURE.md` at the repository's root: a job's path through the
//! library, the module map, and the invariants with where each is enforced.
//!
//! # Cargo features and backends
//!
//! | feature | backend | notes |
//! |---|---|---|
//! | `sqlite` (default) | SQLite, bundled | embedded: no server; one writer at a time (a caller's open write transaction holds up every write); nodes are processes on one machine |
//! | `postgres` | PostgreSQL 12+ | production: many nodes, `SKIP LOCKED` claims of many queues per statement; tables in a schema or with a prefix |
//! | `mysql` | MySQL 8.0.16+, MariaDB 10.6+ | many nodes, `SKIP LOCKED` claims; `DATETIME(6)` in UTC |
//!
//! Time comes from the database's clock on PostgreSQL (`now()`) and MySQL
//! (`UTC_TIMESTAMP(6)`), and from the machine's clock on SQLite (the database
//! lives on that machine). Tests can pin it with [`Clock::manual`]. Where the
//! tables live is set with [`Tables`] and [`Db::connect_with`]. Behind a
//! connection pooler in transaction mode (PgBouncer), use
//! [`Db::transaction_pooler`].
//!
//! # Delivery: at least once
//!
//! An attempt is counted when it starts. If a node dies in the middle of one
//! (killed, out of memory, cut off), the job runs again once the queue's lease
//! runs out (the job's timeout plus [`defaults::LEASE_MARGIN`]); its error then
//! says the attempt was abandoned. A result written after another node took
//! the queue over is refused. So a job may run more than once, never two
//! attempts at once: make performers idempotent (check before acting, use
//! idempotency keys with the services you call, write with upserts).
#![warn(missing_docs)]

mod backend;
mod clock;
mod db;
pub mod defaults;
mod error;
mod event;
mod handle;
mod job;
mod list;
mod metrics;
mod operator;
mod performer;
#[cfg(feature = "prometheus")]
pub mod prometheus;
mod retry;
mod scheduler;
// The storage seam: private to the library, but for its own store
// conformance suite (`tests/store/`), which the hidden `store-conformance`
// feature opens it to. Not part of the API: it changes without notice.
#[cfg(feature = "store-conformance")]
#[doc(hidden)]
pub mod store;
#[cfg(not(feature = "store-conformance"))]
#[allow(unreachable_pub)]
mod store;
mod tables;
pub mod testing;

pub use backend::{Backend, Capabilities};
pub use clock::Clock;
pub use db::{Db, connect};
pub use error::{BackendError, BackendErrorKind, Error, Result};
pub use event::{Event, SchedulerStats};
pub use handle::{Builder, Queuetopia, TxConnection};
pub use job::{ExhaustionPolicy, Job, JobOptions, JobState, NewJob};
pub use list::{Blocked, JobEntry, JobFilter, JobPage, Paused, QueueInfo, QueueLock};
pub use operator::{
    AuditEntry, AuditFilter, AuditPage, BulkFilter, BulkOutcome, MAX_REASON_BYTES, Operations,
    Operator,
};
pub use performer::{JobError, Performer};
pub use retry::{Verdict, default_backoff};
pub use tables::{DEFAULT_PREFIX, Tables};
