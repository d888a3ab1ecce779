//! The scheduler: a tokio task per node that claims ready queues and runs
//! their head jobs.
//!
//! - [`claim`]: looking for ready queues and locking them;
//! - [`run`]: running one attempt and recording its result;
//! - [`write`]: writing results, many attempts' in one transaction, with
//!   the claim of the freed slots' next queues;
//! - [`cleanup`]: deleting old done jobs (when retention is on) and the rows
//!   of queues with nothing left.
//!
//! The loop wakes on a creation (local, or notified by another node) or a
//! finished attempt, coalesced through one [`tokio::sync::Notify`] permit; at
//! the next time it knows a queue becomes ready (a schedule, a backoff, a
//! lease); and at least every poll interval.

mod claim;
pub(crate) mod cleanup;
pub(crate) mod node;
mod result_writer;
mod run;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::error::Result;
use crate::performer::DynPerformer;
use crate::store::{LockReleaseAll, Store};
use node::Shared;

/// A running scheduler, owned by the [`crate::Queuetopia`] handles.
pub(crate) struct Scheduler {
    /// `Some(grace)` asks the loop to stop.
    stop: watch::Sender<Option<Duration>>,
    task: JoinHandle<Result<()>>,
}

impl Scheduler {
    /// Stops the loop and waits for it to wind down (see
    /// [`crate::Queuetopia::shutdown`]).
    pub(crate) async fn stop(self, grace: Duration) -> Result<()> {
        let _ = self.stop.send(Some(grace));
        match self.task.await {
            Ok(result) => result,
            Err(e) => {
                tracing::error!(error = %e, "the scheduler task ended abnormally");
                Ok(())
            }
        }
    }
}

/// Spawns the scheduler of `shared`'s scope.
pub(crate) fn start(shared: Arc<Shared>, performer: Arc<dyn DynPerformer>) -> Scheduler {
    let (stop, stopped) = watch::channel(None);
    let task = tokio::spawn(run_loop(shared, performer, stopped));
    Scheduler { stop, task }
}

async fn run_loop(
    shared: Arc<Shared>,
    performer: Arc<dyn DynPerformer>,
    mut stop: watch::Receiver<Option<Duration>>,
) -> Result<()> {
    tracing::info!(scope = %shared.scope, node = %shared.node, "scheduler started");
    let (interrupt, interrupted) = watch::channel(false);
    let mut attempts: JoinSet<()> = JoinSet::new();
    let (writer, written) = result_writer::Writer::spawn(shared.clone());
    let cleaner = tokio::spawn(cleanup::run(shared.clone()));
    let listener = if shared.config.listen && shared.db.capabilities().notifications {
        let woken = shared.clone();
        shared
            .db
            .store
            .spawn_listener(&shared.scope, Arc::new(move || woken.wake.notify_one()))
    } else {
        None
    };
    let mut failures = 0u32;
    let grace = loop {
        while attempts.try_join_next().is_some() {}
        let pause =
            match claim::round(&shared, &performer, &writer, &mut attempts, &interrupted).await {
                Ok(pause) => {
                    if failures > 0 {
                        tracing::info!(scope = %shared.scope, "claiming works again");
                    }
                    failures = 0;
                    pause
                }
                Err(e) => {
                    failures += 1;
                    let pause = error_pause(failures, shared.config.poll_interval);
                    tracing::warn!(
                        scope = %shared.scope, error = %e, retry_in = ?pause,
                        "claiming failed; the scheduler backs off and tries again"
                    );
                    pause
                }
            };
        tokio::select! {
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(pause) => {}
            changed = stop.changed() => {
                // A dropped handle stops the scheduler with the default grace.
                break match changed {
                    Ok(()) => stop.borrow().unwrap_or(crate::defaults::SHUTDOWN_GRACE),
                    Err(_) => crate::defaults::SHUTDOWN_GRACE,
                };
            }
        }
    };
    shared
        .stopping
        .store(true, std::sync::atomic::Ordering::Release);
    tracing::info!(scope = %shared.scope, node = %shared.node, running = attempts.len(), "scheduler stopping");
    cleaner.abort();
    if let Some(listener) = listener {
        listener.abort();
    }
    let drained = tokio::time::timeout(grace, async {
        while attempts.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    if !drained {
        tracing::warn!(
            scope = %shared.scope, running = attempts.len(),
            "grace period over: interrupting the attempts still running"
        );
        let _ = interrupt.send(true);
        while attempts.join_next().await.is_some() {}
    }
    // Every attempt is over: the writer ends with its last batch.
    drop(writer);
    if let Err(e) = written.await {
        tracing::error!(error = %e, "the result writer ended abnormally");
    }
    // A deadlock with another node's claim (MySQL) or a database that is
    // restarting must not leave the locks to their leases.
    let released = retrying("releasing the locks", Duration::from_secs(10), || {
        shared.db.store.lock_release_all(LockReleaseAll {
            scope: &shared.scope,
            node: &shared.node,
        })
    })
    .await?;
    tracing::info!(scope = %shared.scope, node = %shared.node, released, "scheduler stopped");
    Ok(())
}

/// Runs `op`, trying again on transient database errors (a lost connection,
/// a deadlock, a lock-wait timeout) with a doubling pause, for at most
/// `within`.
pub(crate) async fn retrying<T, F, Fut>(what: &str, within: Duration, mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    let mut pause = Duration::from_millis(50);
    loop {
        match op().await {
            Err(e) if e.is_transient() && tokio::time::Instant::now() + pause < deadline => {
                tracing::warn!(error = %e, retry_in = ?pause, "{what} failed; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            other => return other,
        }
    }
}

/// How long to wait after `failures` failed claims in a row: from 100 ms,
/// doubling, up to the poll interval (and at most 30 s).
fn error_pause(failures: u32, poll_interval: Duration) -> Duration {
    let cap = poll_interval.min(Duration::from_secs(30));
    let exp = failures.saturating_sub(1).min(16);
    (Duration::from_millis(100) * (1u32 << exp)).min(cap)
}

#[cfg(test)]
mod tests {
    use super::error_pause;
    use std::time::Duration;

    #[test]
    fn error_pause_grows_to_a_cap() {
        let poll = Duration::from_secs(60);
        assert_eq!(error_pause(1, poll), Duration::from_millis(100));
        assert_eq!(error_pause(2, poll), Duration::from_millis(200));
        assert_eq!(error_pause(40, poll), Duration::from_secs(30));
        assert_eq!(
            error_pause(40, Duration::from_secs(1)),
            Duration::from_secs(1)
        );
    }
}
