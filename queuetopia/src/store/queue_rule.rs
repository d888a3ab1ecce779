//! What SQLite and MySQL decide in Rust, where PostgreSQL's functions
//! decide in SQL: how a batch of creations splits over its queues and
//! numbers its jobs, and what a claim does with each queue it locked (run
//! its head, wait for it, or leave the queue idle), walked through a
//! backend's [`ClaimSteps`].

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::{Claimed, QueueClaim};
use crate::error::{Error, Result};
use crate::job::{Job, NewJob, Schedule};

/// What creating a batch of jobs does to one queue.
pub(crate) struct QueuePlan<'a> {
    pub(crate) queue: &'a str,
    /// Jobs added to it.
    pub(crate) count: i64,
    /// Some job runs "now" (the queue's monotonic now, see `last_enqueued_at`).
    pub(crate) has_now: bool,
    /// The earliest explicit schedule among them.
    pub(crate) first_timed: Option<DateTime<Utc>>,
}

impl QueuePlan<'_> {
    /// The earliest time one of the new jobs may run: the queue's new
    /// `ready_at` can be no later.
    pub(crate) fn ready(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match (self.first_timed, self.has_now) {
            (Some(t), true) => t.min(now),
            (Some(t), false) => t,
            (None, _) => now,
        }
    }
}

/// The queues a batch of jobs goes to, in name order (the order their rows
/// are locked in, so that two batches never deadlock). Used by the backends
/// that create jobs queue by queue; PostgreSQL does the same in SQL.
pub(crate) fn plan_inserts(jobs: &[NewJob], now: DateTime<Utc>) -> Vec<QueuePlan<'_>> {
    let mut plans: BTreeMap<&str, QueuePlan<'_>> = Default::default();
    for job in jobs {
        let plan = plans.entry(job.queue.as_str()).or_insert(QueuePlan {
            queue: job.queue.as_str(),
            count: 0,
            has_now: false,
            first_timed: None,
        });
        plan.count += 1;
        match scheduled_at(job.options.schedule, now) {
            None => plan.has_now = true,
            Some(t) => plan.first_timed = Some(plan.first_timed.map_or(t, |e| e.min(t))),
        }
    }
    plans.into_values().collect()
}

/// Each job of a batch with its sequence number and the time it may first
/// run, once its queues' rows are upserted: `last` holds, per queue, the
/// last sequence number handed out (the batch's included) and its
/// `last_enqueued_at`, the "now" of the jobs without a schedule. `time`
/// turns a time into the backend's own (what its column keeps).
pub(crate) fn sequenced<'a, T: Copy>(
    jobs: &'a [NewJob],
    plans: &[QueuePlan<'_>],
    mut last: HashMap<String, (i64, Option<T>)>,
    now: DateTime<Utc>,
    time: impl Fn(DateTime<Utc>) -> T,
) -> Result<Vec<(&'a NewJob, i64, T)>> {
    for plan in plans {
        let (n, _) = last
            .get_mut(plan.queue)
            .ok_or_else(|| Error::unexpected("a queue's row was not upserted"))?;
        *n -= plan.count;
    }
    jobs.iter()
        .map(|job| {
            let (sequence, enqueued) = last
                .get_mut(job.queue.as_str())
                .ok_or_else(|| Error::unexpected("a queue's row was not upserted"))?;
            *sequence += 1;
            let at = scheduled_at(job.options.schedule, now).map(&time);
            Ok((
                job,
                *sequence,
                at.or(*enqueued).unwrap_or_else(|| time(now)),
            ))
        })
        .collect()
}

/// When a job with this schedule may first run; `None` for "now".
pub(crate) fn scheduled_at(schedule: Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match schedule {
        Schedule::Now => None,
        Schedule::At(t) => Some(t),
        Schedule::In(d) => Some(now + chrono::Duration::milliseconds(crate::job::millis(d))),
    }
}

/// What an idle claim decided for one queue, from its head job. Backends that
/// decide in Rust (SQLite) use [`decide`]; PostgreSQL decides the same in SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Run the head now.
    Run,
    /// Nothing to run: no pending job, or the head is held.
    Idle,
    /// The head runs later, at this time.
    Wait(DateTime<Utc>),
}

/// The fields of a head job that decide whether it runs now.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Head {
    pub(crate) attempts: i64,
    pub(crate) max_attempts: i64,
    pub(crate) scheduled_at: DateTime<Utc>,
    pub(crate) next_attempt_at: Option<DateTime<Utc>>,
}

impl Head {
    pub(crate) fn of(job: &Job) -> Head {
        Head {
            attempts: i64::from(job.attempts),
            max_attempts: i64::from(job.max_attempts),
            scheduled_at: job.scheduled_at,
            next_attempt_at: job.next_attempt_at,
        }
    }
}

/// When a queue whose head is `head` may next run, if its lock is kept until
/// `kept`: `None` when it has no open job or its head is held. Never before
/// `now`: a queue whose job just ended goes behind the queues already
/// waiting (round robin), however old its head. Backends that refresh a
/// queue in Rust use this; the others compute the same in SQL
/// (`queuetopia_refresh` in `postgres/sql/functions/refresh.sql`).
#[cfg_attr(not(feature = "mysql"), allow(dead_code))]
pub(crate) fn ready_at(
    head: Option<&Job>,
    kept: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let h = head?;
    if h.is_exhausted() {
        return None;
    }
    let mut ready = h.scheduled_at.max(now);
    for t in [h.next_attempt_at, kept].into_iter().flatten() {
        ready = ready.max(t);
    }
    Some(ready)
}

/// Decides what to do with a queue whose head is `head`, at `now`.
pub(crate) fn decide(head: Option<Head>, now: DateTime<Utc>) -> Decision {
    let Some(h) = head else {
        return Decision::Idle;
    };
    if h.attempts >= h.max_attempts {
        return Decision::Idle;
    }
    let ready = h
        .next_attempt_at
        .map_or(h.scheduled_at, |n| n.max(h.scheduled_at));
    if ready > now {
        Decision::Wait(ready)
    } else {
        Decision::Run
    }
}

/// The steps of a claim, for the backends that walk their ready queues one
/// by one inside one transaction (SQLite, MySQL): each reads or writes on
/// the claim's connection.
#[allow(async_fn_in_trait)]
pub(crate) trait ClaimSteps: Send {
    /// The job of a lapsed lock, if it has no result yet.
    async fn open_job(&mut self, id: i64) -> Result<Option<Job>>;
    /// The queue's head.
    async fn head(&mut self, queue: &str) -> Result<Option<Job>>;
    /// Writes the queue's lock (node, lease end, token, job) or none, and
    /// its ready time.
    async fn set_queue(
        &mut self,
        queue: &str,
        lock: Option<(DateTime<Utc>, i64)>,
        ready_at: Option<DateTime<Utc>>,
    ) -> Result<()>;
    /// Locks the head's queue for it until `until` (the attempt's lease) and
    /// counts the head's new attempt; returns the head as updated.
    async fn take(&mut self, head: Job, until: DateTime<Utc>) -> Result<Job>;
}

/// Decides and writes, queue by queue, what a claim does with its ready
/// queues (see `postgres/sql/functions/claim.sql`,
/// which does the same in SQL):
/// a lapsed lock whose attempt wrote no result is abandoned and taken over;
/// a head that may run now is locked and its attempt counted; a head that
/// runs later moves `ready_at` there; a queue with nothing to run (no open
/// job, or a held head) gets no `ready_at` until a write gives it one.
pub(crate) async fn claim_walk(
    steps: &mut impl ClaimSteps,
    claim: &QueueClaim<'_>,
    now: DateTime<Utc>,
    ready: Vec<(String, Option<i64>)>,
) -> Result<Vec<Claimed>> {
    let until =
        |job: &Job| now + chrono::Duration::milliseconds(crate::job::millis(claim.lease(job)));
    let mut claimed = Vec::new();
    for (queue, running) in ready {
        if let Some(running) = running
            && let Some(job) = steps.open_job(running).await?
        {
            let lease = until(&job);
            steps
                .set_queue(&queue, Some((lease, job.id)), Some(lease))
                .await?;
            claimed.push(Claimed {
                job,
                abandoned: true,
            });
            continue;
        }
        let head = steps.head(&queue).await?;
        match (decide(head.as_ref().map(Head::of), now), head) {
            (Decision::Run, Some(head)) => {
                let lease = until(&head);
                claimed.push(Claimed {
                    job: steps.take(head, lease).await?,
                    abandoned: false,
                });
            }
            (Decision::Wait(at), _) => steps.set_queue(&queue, None, Some(at)).await?,
            _ => steps.set_queue(&queue, None, None).await?,
        }
    }
    Ok(claimed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(s, 0).expect("valid")
    }

    #[test]
    fn decide_covers_every_case() {
        let now = at(100);
        let head = |attempts, scheduled, next: Option<i64>| Head {
            attempts,
            max_attempts: 3,
            scheduled_at: at(scheduled),
            next_attempt_at: next.map(at),
        };
        assert_eq!(decide(None, now), Decision::Idle);
        assert_eq!(decide(Some(head(3, 0, None)), now), Decision::Idle);
        assert_eq!(decide(Some(head(0, 100, None)), now), Decision::Run);
        assert_eq!(
            decide(Some(head(0, 150, None)), now),
            Decision::Wait(at(150))
        );
        assert_eq!(
            decide(Some(head(1, 0, Some(120))), now),
            Decision::Wait(at(120))
        );
        assert_eq!(decide(Some(head(1, 0, Some(90))), now), Decision::Run);
    }
}
