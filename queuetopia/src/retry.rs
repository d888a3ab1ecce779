//! Retrying: the backoff between attempts and what a failure leads to.
//!
//! This is policy, so it lives in the core: the backends only store what is
//! decided here.

use std::time::Duration;

use crate::job::{ExhaustionPolicy, Job};

/// The default delay before the next attempt of `job`, which has just failed:
/// `min((2^n + 1) s, max_backoff)`, where `n` counts the attempts made before
/// the one that failed (so 2 s, 3 s, 5 s, 9 s, …).
pub fn default_backoff(job: &Job) -> Duration {
    let before = job.attempts.saturating_sub(1);
    let seconds = if before >= 63 {
        u64::MAX
    } else {
        (1u64 << before).saturating_add(1)
    };
    Duration::from_secs(seconds).min(job.max_backoff)
}

/// What the failure of an attempt leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Try again after the backoff.
    Retry,
    /// Used all attempts: give the job up and let the queue move on.
    GiveUp,
    /// Used all attempts: keep the queue blocked until an operator acts.
    Hold,
}

/// Decides what a failure of `job` (whose `attempts` counts the failed
/// attempt) leads to, under the scope's `policy` unless the job names its own.
pub(crate) fn verdict(job: &Job, scope_policy: ExhaustionPolicy) -> Verdict {
    if !job.is_exhausted() {
        return Verdict::Retry;
    }
    match job.on_exhausted.unwrap_or(scope_policy) {
        ExhaustionPolicy::Skip => Verdict::GiveUp,
        ExhaustionPolicy::Hold => Verdict::Hold,
    }
}

/// The backoff actually used: at most `max_backoff`, whatever the performer
/// asked for.
pub(crate) fn clamp_backoff(asked: Duration, job: &Job) -> Duration {
    asked.min(job.max_backoff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn job(attempts: u32, max_attempts: u32, max_backoff: Duration) -> Job {
        let now = Utc::now();
        let options = crate::JobOptions::default().max_backoff(max_backoff);
        let new = crate::NewJob::new("q", "a", serde_json::json!({}), options).expect("valid");
        // Any counts, even those a creation would refuse.
        Job {
            attempts,
            max_attempts,
            ..new.stored("s", 1, 1, now, now)
        }
    }

    #[test]
    fn backoff_grows_as_specified() {
        let day = Duration::from_secs(86_400);
        let secs: Vec<u64> = (1..=5)
            .map(|n| default_backoff(&job(n, 20, day)).as_secs())
            .collect();
        assert_eq!(secs, [2, 3, 5, 9, 17]);
    }

    #[test]
    fn backoff_is_capped_and_never_overflows() {
        let cap = Duration::from_secs(10);
        assert_eq!(default_backoff(&job(5, 20, cap)), cap);
        assert_eq!(default_backoff(&job(u32::MAX, u32::MAX, cap)), cap);
        let day = Duration::from_secs(86_400);
        assert_eq!(default_backoff(&job(200, 300, day)), day);
        assert_eq!(clamp_backoff(Duration::MAX, &job(1, 2, cap)), cap);
    }

    #[test]
    fn verdict_follows_attempts_and_policy() {
        let d = Duration::from_secs(1);
        assert_eq!(
            verdict(&job(1, 2, d), ExhaustionPolicy::Skip),
            Verdict::Retry
        );
        assert_eq!(
            verdict(&job(2, 2, d), ExhaustionPolicy::Skip),
            Verdict::GiveUp
        );
        assert_eq!(
            verdict(&job(2, 2, d), ExhaustionPolicy::Hold),
            Verdict::Hold
        );
        let mut own = job(2, 2, d);
        own.on_exhausted = Some(ExhaustionPolicy::Hold);
        assert_eq!(verdict(&own, ExhaustionPolicy::Skip), Verdict::Hold);
    }
}
