//! The handle an application holds: creating jobs, reading them, operating
//! queues, and the scheduler's life.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{Mutex, Notify, broadcast};

use crate::clock::Clock;
use crate::db::Db;
use crate::defaults;
use crate::error::{Error, Result};
use crate::event::{Event, SchedulerStats};
use crate::job::{ExhaustionPolicy, Job, JobOptions, NewJob, check_name};
use crate::list::{JobEntry, JobFilter, JobPage, QueueInfo};
use crate::performer::{DynPerformer, Performer};
use crate::scheduler::node::{Config, Shared};
use crate::scheduler::{self, Scheduler};
use crate::store::{JobGet, JobInsert, JobList, QueueList, Store};

/// A Queuetopia instance: one scope on one database.
///
/// Cheap to clone; clones share the scheduler. Made by [`Queuetopia::builder`].
#[derive(Clone)]
pub struct Queuetopia {
    pub(crate) shared: Arc<Shared>,
    scheduler: Arc<Mutex<Option<Scheduler>>>,
}

impl std::fmt::Debug for Queuetopia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queuetopia")
            .field("scope", &self.shared.scope)
            .field("node", &self.shared.node)
            .finish()
    }
}

/// Configures a [`Queuetopia`]; ends with [`Builder::start`] (with a
/// scheduler) or [`Builder::build`] (producer only).
pub struct Builder {
    db: Db,
    performer: Option<Arc<dyn DynPerformer>>,
    scope: String,
    node: Option<String>,
    clock: Clock,
    config: Config,
}

impl Queuetopia {
    /// Starts configuring a scope whose jobs `performer` runs.
    pub fn builder(db: Db, performer: impl Performer) -> Builder {
        Builder {
            performer: Some(Arc::new(performer)),
            ..Builder::producer(db)
        }
    }

    /// Starts configuring a scope that only creates and reads jobs: it has
    /// no performer, so [`Builder::start`] refuses it.
    pub fn producer(db: Db) -> Builder {
        Builder::producer(db)
    }

    /// The scope's name.
    pub fn scope(&self) -> &str {
        &self.shared.scope
    }

    /// This node's name, as written in `attempted_by` and `locked_by`.
    pub fn node(&self) -> &str {
        &self.shared.node
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.shared.db
    }

    /// Creates a job at the end of `queue` (creating the queue if it is new)
    /// and wakes the local scheduler.
    ///
    /// `params` may be a struct that serializes to a JSON object, or a
    /// `serde_json::Value::Object`.
    ///
    /// Returns the job as stored, with the params as given: PostgreSQL
    /// stores JSON numbers as decimals, so a float such as `1e16` is read
    /// back later (by [`Queuetopia::get_job`], or a performer) as the
    /// integer `10000000000000000`.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] naming the field for a bad value, and then
    /// nothing is written (see [`NewJob::new`]); [`Error::Backend`] when the
    /// database fails.
    pub async fn create_job(
        &self,
        queue: impl Into<String>,
        action: impl Into<String>,
        params: impl Serialize,
        options: JobOptions,
    ) -> Result<Job> {
        let job = NewJob::new(queue, action, params, options)?;
        let mut jobs = self.create_jobs([job]).await?;
        Ok(jobs.remove(0))
    }

    /// Creates many jobs in one round trip and one transaction: all or none.
    /// Jobs of one queue keep the order given.
    ///
    /// # Errors
    ///
    /// [`Error::Backend`] when the database fails; nothing is written then.
    pub async fn create_jobs(&self, jobs: impl IntoIterator<Item = NewJob>) -> Result<Vec<Job>> {
        let jobs: Vec<NewJob> = jobs.into_iter().collect();
        let stored = self
            .shared
            .db
            .store
            .job_insert(JobInsert {
                scope: &self.shared.scope,
                jobs: &jobs,
                now: self.shared.clock.now(),
                notify: self.shared.config.listen,
            })
            .await?;
        crate::metrics::created(&self.shared.scope, &stored.jobs);
        if stored.wake {
            self.wake();
        }
        Ok(stored.jobs)
    }

    /// Creates a job inside the caller's own transaction: it takes its place
    /// in the queue when that transaction commits, and a rollback leaves no
    /// trace. Pass the transaction as `&mut *tx`.
    ///
    /// Until the transaction commits, the queue's row stays locked: other
    /// creations in the same queue wait for it, and the queue's running job
    /// cannot record its result. Keep such transactions short.
    ///
    /// The job is visible to schedulers once committed. On PostgreSQL the
    /// commit wakes every node of the scope; elsewhere call
    /// [`Queuetopia::wake`] after the commit to have it picked up at once
    /// rather than at the next poll.
    ///
    /// # Errors
    ///
    /// As [`Queuetopia::create_job`]; [`Error::WrongBackend`] when the
    /// connection is not of this scope's database.
    pub async fn create_job_in<C: TxConnection>(
        &self,
        conn: &mut C,
        queue: impl Into<String>,
        action: impl Into<String>,
        params: impl Serialize,
        options: JobOptions,
    ) -> Result<Job> {
        let job = NewJob::new(queue, action, params, options)?;
        let mut jobs = self.create_jobs_in(conn, vec![job]).await?;
        Ok(jobs.remove(0))
    }

    /// Creates many jobs inside the caller's own transaction (see
    /// [`Queuetopia::create_job_in`]).
    ///
    /// # Errors
    ///
    /// As [`Queuetopia::create_job_in`].
    pub async fn create_jobs_in<C: TxConnection>(
        &self,
        conn: &mut C,
        jobs: Vec<NewJob>,
    ) -> Result<Vec<Job>> {
        let created = conn
            .insert_jobs(
                &self.shared.db,
                &self.shared.scope,
                &jobs,
                self.shared.clock.now(),
                self.shared.config.listen,
            )
            .await?;
        // Counted when written: a caller's transaction that rolls back
        // still counted them.
        crate::metrics::created(&self.shared.scope, &created);
        Ok(created)
    }

    /// One job of this scope, with its state.
    ///
    /// # Errors
    ///
    /// [`Error::JobNotFound`] when no job of this scope has this id.
    pub async fn get_job(&self, id: i64) -> Result<JobEntry> {
        match self
            .shared
            .db
            .store
            .job_get(JobGet {
                scope: &self.shared.scope,
                id,
            })
            .await?
        {
            Some((job, running)) => Ok(JobEntry::new(job, running)),
            None => Err(Error::JobNotFound(id)),
        }
    }

    /// A page of this scope's jobs, newest first unless the filter says
    /// otherwise.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for a bad filter; [`Error::Backend`].
    pub async fn list_jobs(&self, filter: &JobFilter) -> Result<JobPage> {
        filter.check()?;
        let rows = self
            .shared
            .db
            .store
            .job_list(JobList {
                scope: &self.shared.scope,
                filter,
            })
            .await?;
        let full = rows.len() == filter.limit as usize;
        let jobs: Vec<JobEntry> = rows
            .into_iter()
            .map(|(job, running)| JobEntry::new(job, running))
            .collect();
        let next = if full {
            jobs.last().map(|e| e.job.id)
        } else {
            None
        };
        Ok(JobPage { jobs, next })
    }

    /// This scope's queues that have jobs neither done nor given up, or a
    /// live lock, by name.
    ///
    /// # Errors
    ///
    /// [`Error::Backend`].
    pub async fn list_queues(&self) -> Result<Vec<QueueInfo>> {
        self.shared
            .db
            .store
            .queue_list(QueueList {
                scope: &self.shared.scope,
                now: self.shared.clock.now(),
            })
            .await
    }

    /// Deletes this scope's done jobs older than `older_than` now, as the
    /// cleaner does on its own when retention is on; returns how many.
    /// Jobs that are not done are never deleted.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for a duration over 10 years; [`Error::Backend`].
    pub async fn delete_done_jobs(&self, older_than: Duration) -> Result<u64> {
        if older_than > defaults::MAX_DURATION {
            return Err(Error::validation("older_than", "must be at most 10 years"));
        }
        scheduler::cleanup::delete_done(
            &*self.shared.db.store,
            &self.shared.scope,
            older_than,
            self.shared.clock.now(),
        )
        .await
    }

    /// Deletes the rows of this scope's queues that have nothing left (no
    /// open job, no lock), as the cleaner does every cleanup interval; returns
    /// how many. A queue comes back with its next job.
    ///
    /// # Errors
    ///
    /// [`Error::Backend`].
    pub async fn prune_queues(&self) -> Result<u64> {
        scheduler::cleanup::prune_queues(
            &*self.shared.db.store,
            &self.shared.scope,
            self.shared.clock.now(),
        )
        .await
    }

    /// Makes the local scheduler look for runnable queues now. Wake-ups
    /// coalesce: many calls in a row make one look.
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// Counters of this node's scheduler (zero for a producer).
    pub fn stats(&self) -> SchedulerStats {
        SchedulerStats {
            claims: self.shared.claims.load(Ordering::Relaxed),
            attempts: self.shared.attempts.load(Ordering::Relaxed),
            results: self.shared.results.load(Ordering::Relaxed),
            result_commits: self.shared.result_commits.load(Ordering::Relaxed),
        }
    }

    /// Events of this node's scheduler, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    /// Stops the scheduler: it takes no new queue, lets running attempts
    /// finish within `grace`, interrupts those still running then (recording
    /// them as failed, to run again at once), and releases every lock it
    /// holds. Calling it again, or on a producer, does nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Backend`] when the locks could not be released (they then
    /// lapse at the end of their lease).
    pub async fn shutdown(&self, grace: Duration) -> Result<()> {
        let scheduler = self.scheduler.lock().await.take();
        match scheduler {
            Some(s) => s.stop(grace).await,
            None => Ok(()),
        }
    }
}

/// A connection that jobs can be created on, inside the caller's
/// transaction: `PgConnection`, `MySqlConnection` and `SqliteConnection`
/// (pass `&mut *tx`).
pub trait TxConnection: sealed::Sealed + Send {
    #[doc(hidden)]
    fn insert_jobs<'a>(
        &'a mut self,
        db: &'a Db,
        scope: &'a str,
        jobs: &'a [NewJob],
        now: Option<chrono::DateTime<chrono::Utc>>,
        notify: bool,
    ) -> crate::performer::BoxFuture<'a, Result<Vec<Job>>>;
}

mod sealed {
    pub trait Sealed {}
}

/// Implements [`TxConnection`] for one backend's connection type.
macro_rules! tx_connection {
    ($feature:literal, $conn:ty, $kind:ident) => {
        #[cfg(feature = $feature)]
        impl sealed::Sealed for $conn {}

        #[cfg(feature = $feature)]
        impl TxConnection for $conn {
            fn insert_jobs<'a>(
                &'a mut self,
                db: &'a Db,
                scope: &'a str,
                jobs: &'a [NewJob],
                now: Option<chrono::DateTime<chrono::Utc>>,
                notify: bool,
            ) -> crate::performer::BoxFuture<'a, Result<Vec<Job>>> {
                Box::pin(async move {
                    match &*db.store {
                        crate::store::StoreKind::$kind(store) => {
                            Ok(store.insert_on(self, scope, jobs, now, notify).await?.jobs)
                        }
                        #[allow(unreachable_patterns)]
                        _ => Err(Error::WrongBackend {
                            expected: db.backend().name(),
                        }),
                    }
                })
            }
        }
    };
}

tx_connection!("postgres", sqlx::PgConnection, Postgres);
tx_connection!("sqlite", sqlx::SqliteConnection, Sqlite);
tx_connection!("mysql", sqlx::MySqlConnection, MySql);

impl Builder {
    fn producer(db: Db) -> Builder {
        Builder {
            db,
            performer: None,
            scope: "default".to_owned(),
            node: None,
            clock: Clock::database(),
            config: Config {
                poll_interval: defaults::POLL_INTERVAL,
                max_concurrent_jobs: None,
                on_exhausted: ExhaustionPolicy::default(),
                lease_margin: defaults::LEASE_MARGIN,
                lease_cap: None,
                retention: None,
                audit_retention: defaults::AUDIT_RETENTION,
                cleanup_interval: defaults::CLEANUP_INTERVAL,
                listen: true,
            },
        }
    }

    /// The scope's name (default `"default"`): scopes sharing a database never
    /// see each other's jobs.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = scope.into();
        self
    }

    /// This node's name, written in `attempted_by` (default: host, process
    /// id and a random suffix). Give every running scheduler its own name.
    pub fn node(mut self, node: impl Into<String>) -> Self {
        self.node = Some(node.into());
        self
    }

    /// How often an idle scheduler looks for work (default 60 s). Creating a
    /// job and finishing one wake it earlier, and so does the next scheduled
    /// time or backoff it knows of.
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.config.poll_interval = every;
        self
    }

    /// The most attempts this node runs at once (default: no limit).
    pub fn max_concurrent_jobs(mut self, n: u32) -> Self {
        self.config.max_concurrent_jobs = Some(n);
        self
    }

    /// What happens to a job that used all its attempts, unless the job says
    /// otherwise (default [`ExhaustionPolicy::Skip`]).
    pub fn on_exhausted(mut self, policy: ExhaustionPolicy) -> Self {
        self.config.on_exhausted = policy;
        self
    }

    /// How long a queue's lock outlives its job's timeout (default 1 s).
    pub fn lease_margin(mut self, margin: Duration) -> Self {
        self.config.lease_margin = margin;
        self
    }

    /// Caps every lock's lease at `lease`, and has running attempts renew it
    /// (every third of it) for as long as they run, up to their timeout. A
    /// node that dies then frees its queues after `lease`, not after the
    /// job's whole timeout: use it for long jobs. An attempt whose lease
    /// cannot be renewed (the database is unreachable past the lease, or
    /// another node took the queue) is cancelled rather than left running
    /// beside a new owner.
    pub fn renewed_lease(mut self, lease: Duration) -> Self {
        self.config.lease_cap = Some(lease);
        self
    }

    /// Turns the cleaner on: done jobs older than `retention` are deleted
    /// every cleanup interval (the default retention is
    /// [`defaults::RETENTION`]). Jobs not done are never deleted.
    pub fn retention(mut self, retention: Duration) -> Self {
        self.config.retention = Some(retention);
        self
    }

    /// How long the audit of operator actions is kept (default
    /// [`defaults::AUDIT_RETENTION`]): the cleaner deletes older entries
    /// whether or not [`Builder::retention`] is on.
    pub fn audit_retention(mut self, retention: Duration) -> Self {
        self.config.audit_retention = retention;
        self
    }

    /// How often the cleaner runs (default 1 min): it deletes old done jobs
    /// when retention is on, old audit entries, and the rows of queues with
    /// nothing left. Its
    /// first run comes after a random part of this, so that nodes do not
    /// clean at once.
    pub fn cleanup_interval(mut self, every: Duration) -> Self {
        self.config.cleanup_interval = every;
        self
    }

    /// Whether this instance takes part in cross-node wake-ups, where the
    /// backend has them (PostgreSQL's LISTEN/NOTIFY; default on): its
    /// scheduler listens, and its creations notify when a queue becomes
    /// claimable. Off, its scheduler finds work created elsewhere at its next
    /// poll, and nodes learn of its creations at theirs; creations save the
    /// notification (PostgreSQL serialises the commits that notify). Behind
    /// a pooler in transaction mode use [`crate::Db::transaction_pooler`],
    /// which turns them off.
    pub fn notifications(mut self, listen: bool) -> Self {
        self.config.listen = listen;
        self
    }

    /// The clock leases and schedules are measured on (default: the
    /// database's). Tests pin it with [`Clock::manual`].
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    fn check(&self) -> Result<()> {
        check_name("scope", &self.scope)?;
        if let Some(node) = &self.node {
            check_name("node", node)?;
        }
        let c = &self.config;
        if c.poll_interval.is_zero() || c.poll_interval > defaults::MAX_DURATION {
            return Err(Error::validation(
                "poll_interval",
                "must be between 1 ms and 10 years",
            ));
        }
        if c.max_concurrent_jobs == Some(0) {
            return Err(Error::validation(
                "max_concurrent_jobs",
                "must be at least 1",
            ));
        }
        if c.lease_cap
            .is_some_and(|l| l < Duration::from_millis(30) || l > defaults::MAX_DURATION)
        {
            return Err(Error::validation(
                "renewed_lease",
                "must be between 30 ms and 10 years",
            ));
        }
        if c.lease_margin > defaults::MAX_DURATION {
            return Err(Error::validation(
                "lease_margin",
                "must be at most 10 years",
            ));
        }
        if c.cleanup_interval.is_zero() || c.cleanup_interval > defaults::MAX_DURATION {
            return Err(Error::validation(
                "cleanup_interval",
                "must be between 1 ms and 10 years",
            ));
        }
        if c.retention.is_some_and(|r| r > defaults::MAX_DURATION) {
            return Err(Error::validation("retention", "must be at most 10 years"));
        }
        if c.audit_retention > defaults::MAX_DURATION {
            return Err(Error::validation(
                "audit_retention",
                "must be at most 10 years",
            ));
        }
        Ok(())
    }

    fn into_parts(self) -> (Arc<Shared>, Option<Arc<dyn DynPerformer>>) {
        let (events, _) = broadcast::channel(4096);
        let node = self.node.unwrap_or_else(default_node_name);
        let shared = Arc::new(Shared {
            db: self.db,
            scope: self.scope,
            node,
            clock: self.clock,
            config: self.config,
            wake: Notify::new(),
            events,
            claims: AtomicU64::new(0),
            attempts: AtomicU64::new(0),
            results: AtomicU64::new(0),
            result_commits: AtomicU64::new(0),
            running: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
        });
        (shared, self.performer)
    }

    /// A handle without a scheduler: it creates, reads and operates jobs
    /// (for producer processes and tests).
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for a bad setting; [`Error::SchemaOutdated`] when
    /// the database needs [`Db::migrate`].
    pub async fn build(self) -> Result<Queuetopia> {
        self.check()?;
        self.db.check_schema().await?;
        let (shared, _) = self.into_parts();
        Ok(Queuetopia {
            shared,
            scheduler: Arc::new(Mutex::new(None)),
        })
    }

    /// A handle with a running scheduler, spawned on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// As [`Builder::build`]; [`Error::Validation`] for a producer (no performer).
    pub async fn start(self) -> Result<Queuetopia> {
        self.check()?;
        self.db.check_schema().await?;
        let (shared, performer) = self.into_parts();
        let Some(performer) = performer else {
            return Err(Error::validation(
                "performer",
                "a producer has no performer to run jobs: use Queuetopia::builder",
            ));
        };
        let scheduler = scheduler::start(shared.clone(), performer);
        Ok(Queuetopia {
            shared,
            scheduler: Arc::new(Mutex::new(Some(scheduler))),
        })
    }
}

fn default_node_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".to_owned());
    let suffix = crate::store::random_token() & 0xffff_ffff;
    let mut name = format!("{host}-{}-{suffix:08x}", std::process::id());
    while name.len() > defaults::MAX_NAME_BYTES {
        name.pop();
    }
    name
}
