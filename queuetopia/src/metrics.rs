//! Metrics, through the `metrics` facade: an application that installs a
//! recorder (Prometheus, StatsD, …) gets them; one that installs none pays
//! next to nothing. Names are `queuetopia_…` in base units, counters end in
//! `_total`; labels are `scope`, the job's `action` and an `outcome` —
//! never the queue, whose values grow with the entities an application has.
//! The README lists them all.

use chrono::{DateTime, Utc};
use metrics::{counter, gauge, histogram};

use crate::job::Job;
use crate::retry::Verdict;

/// How an attempt ended, as `queuetopia_attempts_ended_total` labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    Succeeded,
    Failed,
    TimedOut,
    /// Its node's lease ran out without a result; another node recorded it.
    Abandoned,
    /// The node shut down while it ran.
    Interrupted,
}

impl Ending {
    fn as_str(self) -> &'static str {
        match self {
            Ending::Succeeded => "succeeded",
            Ending::Failed => "failed",
            Ending::TimedOut => "timed_out",
            Ending::Abandoned => "abandoned",
            Ending::Interrupted => "interrupted",
        }
    }
}

fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(0).max(0) as f64 / 1e6
}

/// Jobs created.
pub(crate) fn created(scope: &str, jobs: &[Job]) {
    for job in jobs {
        let labels = [("scope", scope.to_owned()), ("action", job.action.clone())];
        counter!("queuetopia_jobs_created_total", &labels).increment(1);
    }
}

/// An attempt started: `job` as claimed. Its wait runs from when it could
/// run (its schedule, or the end of its backoff) to its claim.
pub(crate) fn started(job: &Job) {
    let labels = [("scope", job.scope.clone()), ("action", job.action.clone())];
    counter!("queuetopia_attempts_started_total", &labels).increment(1);
    if let Some(claimed) = job.attempted_at {
        let ready = job
            .next_attempt_at
            .map_or(job.scheduled_at, |at| at.max(job.scheduled_at));
        histogram!("queuetopia_attempt_wait_seconds", &labels).record(seconds(ready, claimed));
    }
}

/// An attempt's result was stored: `job` as stored, with the verdict of a
/// failure.
pub(crate) fn ended(job: &Job, ending: Ending, verdict: Option<Verdict>) {
    let scope = job.scope.clone();
    let action = job.action.clone();
    let outcome = [
        ("scope", scope.clone()),
        ("action", action.clone()),
        ("outcome", ending.as_str().to_owned()),
    ];
    counter!("queuetopia_attempts_ended_total", &outcome).increment(1);
    let labels = [("scope", scope), ("action", action)];
    if let Some(started) = job.attempted_at {
        let end = job.done_at.unwrap_or(job.updated_at);
        histogram!("queuetopia_attempt_duration_seconds", &labels).record(seconds(started, end));
    }
    match verdict {
        Some(Verdict::GiveUp) => counter!("queuetopia_jobs_given_up_total", &labels).increment(1),
        Some(Verdict::Hold) => counter!("queuetopia_jobs_held_total", &labels).increment(1),
        _ => {}
    }
}

/// Attempts running on this process's nodes, by scope: one more (`1.0`) or
/// one fewer (`-1.0`).
pub(crate) fn running(scope: &str, change: f64) {
    gauge!("queuetopia_running_attempts", "scope" => scope.to_owned()).increment(change);
}

/// A result refused because the node lost the queue's lock.
pub(crate) fn refused(scope: &str) {
    counter!("queuetopia_results_refused_total", "scope" => scope.to_owned()).increment(1);
}

/// An operator's action (`retry`, `skip`, `cancel`, `edit`, `pause`, `resume`).
pub(crate) fn operator_action(scope: &str, action: &'static str) {
    let labels = [("scope", scope.to_owned()), ("action", action.to_owned())];
    counter!("queuetopia_operator_actions_total", &labels).increment(1);
}
