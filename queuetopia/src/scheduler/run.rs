//! Running one attempt: the performer under a timeout, a panic guard and the
//! shutdown signal; then its result, written under the queue's lock.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;

use super::node::Shared;
use super::result_writer::{Next, Reply, Report, Writer};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::job::Job;
use crate::metrics::{self, Ending};
use crate::performer::{AfterFailure, DynPerformer, JobError};
use crate::retry::{self, Verdict};
use crate::store::{self, Claimed, LockRenewal, Store};

/// How an attempt ended.
enum Ended {
    Ok,
    Failed(JobError),
    Panicked(String),
    TimedOut,
    Interrupted,
    Abandoned,
    /// The lease could not be renewed: the attempt was cancelled.
    LeaseLost,
}

/// Frees the attempt's slot and wakes the scheduler when the attempt ends,
/// however it ends (even if its task is dropped).
struct Slot(Arc<Shared>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
        metrics::running(&self.0.scope, -1.0);
        self.0.wake.notify_one();
    }
}

/// Runs (or, if abandoned, records) a claimed attempt, then each attempt
/// claimed with its result (the slot's next queue, claimed in the batch its
/// result was written in); then frees the slot and wakes the scheduler so
/// that the queues are looked at again at once.
pub(super) async fn attempt(
    shared: Arc<Shared>,
    performer: Arc<dyn DynPerformer>,
    writer: Writer,
    claimed: Claimed,
    token: i64,
    claimed_at: Instant,
    interrupt: watch::Receiver<bool>,
) {
    let _slot = Slot(shared.clone());
    let mut next = Some((claimed, token, claimed_at));
    while let Some((claimed, token, claimed_at)) = next.take() {
        let job = claimed.job;
        let span = tracing::info_span!(
            "attempt",
            scope = %job.scope, queue = %job.queue, job_id = job.id, attempt = job.attempts,
            action = %job.action,
        );
        next = async {
            tracing::debug!("claimed");
            let ended = if claimed.abandoned {
                tracing::warn!(
                    previous_node = job.attempted_by.as_deref().unwrap_or("?"),
                    "lock taken over: the last attempt ended without a result"
                );
                Ended::Abandoned
            } else {
                tracing::debug!("perform");
                metrics::started(&job);
                shared.emit(Event::Started { job: job.clone() });
                perform(
                    &shared,
                    &performer,
                    &job,
                    token,
                    claimed_at,
                    interrupt.clone(),
                )
                .await
            };
            record(&shared, &performer, &writer, &job, token, ended).await
        }
        .instrument(span)
        .await;
    }
}

/// Runs the performer in its own task, so that a panic is caught and a
/// timeout, a shutdown or a lost lease can cancel it.
///
/// The timeout counts from the claim, on this machine's monotonic clock,
/// which runs on while the process is frozen: a node that was stopped past
/// its lease (and may have lost its queue) does not start the performer when
/// it wakes up, and one stopped in the middle of an attempt cancels it at once.
async fn perform(
    shared: &Shared,
    performer: &Arc<dyn DynPerformer>,
    job: &Job,
    token: i64,
    claimed_at: Instant,
    mut interrupt: watch::Receiver<bool>,
) -> Ended {
    let deadline = claimed_at + job.timeout;
    if Instant::now() >= deadline {
        return Ended::TimedOut;
    }
    let (p, j) = (performer.clone(), job.clone());
    let mut task = tokio::spawn(async move { p.perform(&j).await });
    let interrupted = async {
        if interrupt.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        joined = &mut task => match joined {
            Ok(Ok(())) => Ended::Ok,
            Ok(Err(e)) => Ended::Failed(e),
            Err(e) if e.is_panic() => Ended::Panicked(panic_message(e.into_panic())),
            Err(_) => Ended::Failed(JobError::new("cancelled")),
        },
        _ = tokio::time::sleep_until(deadline) => {
            task.abort();
            Ended::TimedOut
        }
        _ = interrupted => {
            task.abort();
            Ended::Interrupted
        }
        _ = keep_lease(shared, job, token, claimed_at) => {
            task.abort();
            Ended::LeaseLost
        }
    }
}

/// Renews the attempt's lease every third of it, when leases are renewed;
/// returns only when the lease is lost: another node took the queue, or
/// renewing failed until too little of the lease was left.
async fn keep_lease(shared: &Shared, job: &Job, token: i64, claimed_at: Instant) {
    let config = &shared.config;
    let lease = store::lease(job, config.lease_margin, config.lease_cap);
    if config.lease_cap.is_none() || lease >= job.timeout + config.lease_margin {
        // The lease outlasts the timeout: nothing to renew.
        return std::future::pending().await;
    }
    let every = lease / 3;
    // Measured from before the request that took or renewed the lease, a
    // third of it early.
    let mut held_until = claimed_at + lease - every;
    loop {
        tokio::time::sleep_until(held_until - every).await;
        let asked = Instant::now();
        if asked >= held_until + every {
            // Past the lease's end: the process was frozen or starved, and
            // another node may own the queue by now.
            tracing::warn!("the lease ran out before it could be renewed: cancelling the attempt");
            return;
        }
        let renewed = shared
            .db
            .store
            .lock_renew(LockRenewal {
                scope: &shared.scope,
                queue: &job.queue,
                job_id: job.id,
                node: &shared.node,
                token,
                lease,
                now: shared.clock.now(),
            })
            .await;
        match renewed {
            Ok(true) => held_until = asked + lease - every,
            Ok(false) => {
                tracing::warn!("the queue's lock was taken over: cancelling the attempt");
                return;
            }
            Err(e) if Instant::now() < held_until => {
                tracing::warn!(error = %e, "renewing the lease failed; trying again");
            }
            Err(e) => {
                tracing::warn!(error = %e, "the lease could not be renewed in time: cancelling the attempt");
                return;
            }
        }
    }
}

fn panic_message(payload: Box<dyn Any + Send>) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned());
    format!("panic: {text}")
}

/// Writes the result of an attempt, and tells about it; returns the attempt
/// claimed with it, if any.
async fn record(
    shared: &Shared,
    performer: &Arc<dyn DynPerformer>,
    writer: &Writer,
    job: &Job,
    token: i64,
    ended: Ended,
) -> Next {
    let ending = match ended {
        Ended::TimedOut => Ending::TimedOut,
        Ended::Abandoned => Ending::Abandoned,
        Ended::Interrupted => Ending::Interrupted,
        _ => Ending::Failed,
    };
    // The failure's message, whether it timed out, and what the performer
    // asked for: a delay, or to give the job up.
    let (error, timeout, asked) = match ended {
        Ended::Ok => {
            let (stored, next) = written(writer.write(job, token, Report::Done).await);
            match stored {
                Ok(done) => {
                    tracing::info!("job succeeded");
                    metrics::ended(&done, Ending::Succeeded, None);
                    shared.emit(Event::Succeeded { job: done });
                }
                Err(e) => refused_or_lost(shared, job, e),
            }
            return next;
        }
        Ended::Failed(e) => (e.message().to_owned(), false, e.next()),
        Ended::Panicked(message) => (message, false, AfterFailure::Backoff),
        Ended::TimedOut => {
            tracing::warn!(timeout = ?job.timeout, "attempt timed out and was cancelled");
            ("timeout".to_owned(), true, AfterFailure::Backoff)
        }
        // Not the job's fault: run it again at once, elsewhere if need be.
        Ended::Interrupted => (
            "interrupted: the node shut down".to_owned(),
            false,
            AfterFailure::RetryIn(Duration::ZERO),
        ),
        Ended::LeaseLost => {
            // Another node may own the queue now: write nothing.
            metrics::refused(&shared.scope);
            shared.emit(Event::ResultRefused {
                job_id: job.id,
                attempt: job.attempts,
            });
            return None;
        }
        Ended::Abandoned => (
            format!(
                "abandoned: the attempt on node {} ended without a result before its lease ran out",
                job.attempted_by.as_deref().unwrap_or("?")
            ),
            false,
            AfterFailure::Backoff,
        ),
    };
    let mut failed = job.clone();
    failed.error = Some(error.clone());
    let backoff = match asked {
        AfterFailure::RetryIn(d) => retry::clamp_backoff(d, &failed),
        AfterFailure::Backoff | AfterFailure::GiveUp => asked_backoff(performer, &failed),
    };
    let verdict = match asked {
        AfterFailure::GiveUp => Verdict::GiveUp,
        _ => retry::verdict(&failed, shared.config.on_exhausted),
    };
    let result = Report::Failed {
        error: error.clone(),
        backoff,
        give_up: verdict == Verdict::GiveUp,
        keep_lock: timeout,
    };
    let (stored, next) = written(writer.write(job, token, result).await);
    match stored {
        Ok(stored) => {
            tracing::warn!(error = %error, ?verdict, ?backoff, timeout, "job failed");
            metrics::ended(&stored, ending, Some(verdict));
            shared.emit(Event::Failed {
                job: stored.clone(),
                verdict,
                timeout,
            });
            on_failure(performer, stored).await;
        }
        Err(e) => refused_or_lost(shared, job, e),
    }
    next
}

/// What became of a result, and the slot's next attempt (none when the
/// result could not be written at all).
fn written(written: Result<Reply>) -> (Result<Job>, Next) {
    match written {
        Ok(w) => (w.job, w.next),
        Err(e) => (Err(e), None),
    }
}

/// The performer's backoff, capped by the job's; the default one if the
/// performer panics.
fn asked_backoff(performer: &Arc<dyn DynPerformer>, failed: &Job) -> Duration {
    let asked = std::panic::catch_unwind(AssertUnwindSafe(|| performer.backoff(failed)))
        .unwrap_or_else(|_| {
            tracing::warn!("the performer's backoff panicked; using the default backoff");
            retry::default_backoff(failed)
        });
    retry::clamp_backoff(asked, failed)
}

/// Runs the failure hook; its errors and panics are logged and change nothing.
async fn on_failure(performer: &Arc<dyn DynPerformer>, job: Job) {
    let p = performer.clone();
    match tokio::spawn(async move { p.on_failure(&job).await }).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "the failure hook failed"),
        Err(e) => tracing::warn!(error = %e, "the failure hook panicked"),
    }
}

fn refused_or_lost(shared: &Shared, job: &Job, e: Error) {
    match e {
        Error::LeaseLost { job_id, attempt } => {
            tracing::warn!("result refused: this node lost the queue's lock");
            metrics::refused(&shared.scope);
            shared.emit(Event::ResultRefused { job_id, attempt });
        }
        e => tracing::error!(
            error = %e, job_id = job.id,
            "could not record the result; the job runs again once its lease runs out"
        ),
    }
}
