//! The operations' parameters and results: one parameter struct per
//! operation of [`super::Store`], named after it.
//!
//! Every operation that depends on time takes `now`: `None` means the
//! database's clock, `Some` a pinned [`crate::Clock`].

use std::time::Duration;

use chrono::{DateTime, Utc};

use serde_json::{Map, Value};

use crate::error::Error;
use crate::job::{Job, NewJob};
use crate::list::JobFilter;
use crate::operator::AuditFilter;

/// A migration of the schema up or down to `target` (0: no tables).
#[derive(Debug, Clone, Copy)]
pub struct SchemaMigrate {
    pub target: u32,
}

/// A creation of `jobs` in `scope`, in order. With `notify`, other nodes
/// are told when a queue becomes claimable, where the backend can
/// (PostgreSQL).
#[derive(Debug, Clone, Copy)]
pub struct JobInsert<'a> {
    pub scope: &'a str,
    pub jobs: &'a [NewJob],
    pub now: Option<DateTime<Utc>>,
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub notify: bool,
}

/// A read of job `id` of `scope`.
#[derive(Debug, Clone, Copy)]
pub struct JobGet<'a> {
    pub scope: &'a str,
    pub id: i64,
}

/// A read of the jobs of `scope` that match `filter`.
#[derive(Debug, Clone, Copy)]
pub struct JobList<'a> {
    pub scope: &'a str,
    pub filter: &'a JobFilter,
}

/// A read of the queues of `scope`.
#[derive(Debug, Clone, Copy)]
pub struct QueueList<'a> {
    pub scope: &'a str,
    pub now: Option<DateTime<Utc>>,
}

/// An operator's `action` on job `id` of `scope`, by `actor`, written in
/// the audit in the same transaction.
#[derive(Debug, Clone, Copy)]
pub struct JobAct<'a> {
    pub scope: &'a str,
    pub id: i64,
    pub action: JobAction<'a>,
    pub actor: &'a str,
    pub reason: Option<&'a str>,
    pub now: Option<DateTime<Utc>>,
}

impl<'a> JobAct<'a> {
    /// The audit row of this action on `job`, read under its queue's lock
    /// before the action changed it.
    pub(crate) fn audit(&self, job: &'a Job) -> AuditRow<'a> {
        let params_before = match self.action {
            JobAction::Cancel | JobAction::Edit { .. } => Some(json(&job.params)),
            JobAction::Retry | JobAction::Skip => None,
        };
        let params_after = match self.action {
            JobAction::Edit { params } => Some(json(params)),
            _ => None,
        };
        AuditRow {
            scope: self.scope,
            actor: self.actor,
            action: self.action.name(),
            queue: &job.queue,
            job_id: Some(job.id),
            reason: self.reason,
            params_before,
            params_after,
        }
    }
}

/// An operator's pause (`pause`) or resume of queue `queue` of `scope`, by
/// `actor`, written in the audit in the same transaction.
#[derive(Debug, Clone, Copy)]
pub struct QueuePause<'a> {
    pub scope: &'a str,
    pub queue: &'a str,
    pub pause: bool,
    pub actor: &'a str,
    pub reason: Option<&'a str>,
    pub now: Option<DateTime<Utc>>,
}

impl<'a> QueuePause<'a> {
    /// The audit row of this action.
    pub(crate) fn audit(&self) -> AuditRow<'a> {
        AuditRow {
            scope: self.scope,
            actor: self.actor,
            action: if self.pause { "pause" } else { "resume" },
            queue: self.queue,
            job_id: None,
            reason: self.reason,
            params_before: None,
            params_after: None,
        }
    }

    /// Why the action was refused when its statement matched no queue.
    pub(crate) fn refusal(&self) -> Error {
        Error::QueueState {
            queue: self.queue.to_owned(),
            reason: if self.pause {
                "it is already paused"
            } else {
                "it is not paused"
            },
        }
    }
}

/// One row of the audit, as a backend writes it: params as JSON text.
#[derive(Debug)]
pub(crate) struct AuditRow<'a> {
    pub(crate) scope: &'a str,
    pub(crate) actor: &'a str,
    pub(crate) action: &'static str,
    pub(crate) queue: &'a str,
    pub(crate) job_id: Option<i64>,
    pub(crate) reason: Option<&'a str>,
    pub(crate) params_before: Option<String>,
    pub(crate) params_after: Option<String>,
}

fn json(params: &Map<String, Value>) -> String {
    Value::Object(params.clone()).to_string()
}

/// A page of the audit of `scope`, newest first.
#[derive(Debug, Clone, Copy)]
pub struct AuditList<'a> {
    pub scope: &'a str,
    pub filter: &'a AuditFilter,
}

/// A retention delete: up to `limit` rows of `scope` older than
/// `older_than` (done jobs, or audit entries).
#[derive(Debug, Clone, Copy)]
pub struct DeleteOlder<'a> {
    pub scope: &'a str,
    pub older_than: Duration,
    pub limit: u32,
    pub now: Option<DateTime<Utc>>,
}

/// A deletion of up to `limit` rows of queues of `scope` with nothing left
/// (no open job, no lock).
#[derive(Debug, Clone, Copy)]
pub struct QueuePrune<'a> {
    pub scope: &'a str,
    pub limit: u32,
    pub now: Option<DateTime<Utc>>,
}

/// A release of every lock `node` holds in `scope` without a running
/// attempt (after a clean shutdown).
#[derive(Debug, Clone, Copy)]
pub struct LockReleaseAll<'a> {
    pub scope: &'a str,
    pub node: &'a str,
}

/// A claim: lock up to `limit` ready queues of `scope` for `node`.
pub struct QueueClaim<'a> {
    pub scope: &'a str,
    pub node: &'a str,
    pub limit: u32,
    pub now: Option<DateTime<Utc>>,
    /// Written into each lock taken, and checked by every result written under it.
    pub token: i64,
    pub lease_margin: Duration,
    /// When set, leases last at most this long and the attempt renews them.
    pub lease_cap: Option<Duration>,
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
pub struct Inserted {
    /// The jobs as stored, in the order asked for.
    pub jobs: Vec<Job>,
    /// Some queue they went to may be claimed now: schedulers should look.
    /// False when every such queue is busy running a job (its end wakes the
    /// scheduler) or waits for a later time, so that a burst of creations
    /// into busy queues wakes nobody.
    pub wake: bool,
}

/// A job whose queue a claim has locked.
#[derive(Debug)]
pub struct Claimed {
    /// The job, with `attempts` already counting the new attempt (unless abandoned).
    pub job: Job,
    /// The job's last attempt was abandoned (its node's lease ran out without
    /// a result): the claimer must record that failure, not run the job.
    pub abandoned: bool,
}

/// When an idle scheduler should look again.
#[derive(Debug)]
pub struct NextWake {
    /// The database's now (or the pinned clock's).
    pub now: DateTime<Utc>,
    /// The earliest future `ready_at` of the scope's queues.
    pub next: Option<DateTime<Utc>>,
}

/// What a claim took.
#[derive(Debug, Default)]
pub struct ClaimBatch {
    /// The jobs whose queues it locked.
    pub claimed: Vec<Claimed>,
    /// How many ready queues it looked at: when that is the limit, more may
    /// be ready.
    pub examined: u32,
    /// When fewer than the limit were ready: when the next queue becomes
    /// ready, read in the same transaction (so with the same "now").
    pub next_wake: Option<NextWake>,
}

/// A renewal of a running attempt's lease.
pub struct LockRenewal<'a> {
    pub scope: &'a str,
    pub queue: &'a str,
    pub job_id: i64,
    pub node: &'a str,
    pub token: i64,
    pub lease: Duration,
    pub now: Option<DateTime<Utc>>,
}

/// The result of one attempt, to be written under the queue's lock.
pub struct JobFinish<'a> {
    pub queue: &'a str,
    pub job_id: i64,
    pub attempt: u32,
    /// The token of the lock the attempt ran under.
    pub token: i64,
    pub outcome: Outcome<'a>,
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
pub struct FinishBatch<'a> {
    pub scope: &'a str,
    pub node: &'a str,
    pub now: Option<DateTime<Utc>>,
    pub results: Vec<JobFinish<'a>>,
    pub next: Option<NextClaim>,
    /// Wait for queue rows that other transactions hold. Without it, such a
    /// result comes back [`Written::Busy`] and the claim takes one queue
    /// fewer for it, where the backend locks rows (PostgreSQL, MySQL).
    #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
    pub wait: bool,
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
pub struct NextClaim {
    pub limit: u32,
    pub token: i64,
    pub lease_margin: Duration,
    pub lease_cap: Option<Duration>,
}

/// Results as written, with the claim that went with them.
pub struct Finished {
    /// One per result, in the order given.
    pub jobs: Vec<Written>,
    /// The jobs whose queues the claim locked: at most `next.limit` less
    /// the busy results.
    pub next: Vec<Claimed>,
}

/// What became of one result of a batch.
#[derive(Debug)]
pub enum Written {
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
pub enum Outcome<'a> {
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
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum JobAction<'a> {
    /// Make a failed, held or given-up job runnable now.
    Retry,
    /// Give up a job that is not running or done, so its queue moves on.
    Skip,
    /// Remove a job that never ran from its queue.
    Cancel,
    /// Replace the params of a failed or held job.
    Edit { params: &'a Map<String, Value> },
}

impl JobAction<'_> {
    /// Why the action was refused when its statement matched no job.
    pub(crate) fn refusal(self) -> &'static str {
        match self {
            JobAction::Retry => "it is done",
            JobAction::Skip => "it is already done or given up",
            JobAction::Cancel => {
                "it has run, or is done or given up: only a job that never ran can be cancelled"
            }
            JobAction::Edit { .. } => "only a failed or held job can be edited",
        }
    }

    /// The action's name in the audit.
    pub(crate) fn name(self) -> &'static str {
        match self {
            JobAction::Retry => "retry",
            JobAction::Skip => "skip",
            JobAction::Cancel => "cancel",
            JobAction::Edit { .. } => "edit",
        }
    }
}
