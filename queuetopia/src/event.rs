//! Events a scheduler sends as it runs jobs, and its counters: for tests,
//! metrics and logs.

use crate::job::Job;
use crate::retry::Verdict;

/// Something that happened to a job on this node.
///
/// Receive them with [`crate::Queuetopia::subscribe`]. A receiver that falls
/// more than a few thousand events behind misses the oldest ones.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// An attempt started; `job.attempts` counts it.
    Started {
        /// The job, as claimed.
        job: Job,
    },
    /// An attempt succeeded and the job is done.
    Succeeded {
        /// The job, as stored.
        job: Job,
    },
    /// An attempt failed and the failure is stored.
    Failed {
        /// The job, as stored: `error`, `next_attempt_at`, `given_up_at`.
        job: Job,
        /// What the failure led to.
        verdict: Verdict,
        /// The attempt outran its timeout.
        timeout: bool,
    },
    /// An attempt's result was refused because the node lost the queue's
    /// lock, or the attempt was cancelled because its lease could not be
    /// renewed.
    ResultRefused {
        /// The job.
        job_id: i64,
        /// The attempt whose result was refused.
        attempt: u32,
    },
}

/// Counters of a node's scheduler since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SchedulerStats {
    /// Claims made: each is one transaction that looks for ready queues.
    pub claims: u64,
    /// Attempts started (and abandoned attempts taken over).
    pub attempts: u64,
    /// Results written (or refused because the lock was lost).
    pub results: u64,
    /// Transactions that wrote results: `results / result_commits` is how
    /// many results shared a commit on average.
    pub result_commits: u64,
}
