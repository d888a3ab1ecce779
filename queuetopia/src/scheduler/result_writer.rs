//! Writing results: one task per node takes the results of the attempts
//! that ended while it wrote the previous batch, and writes them in one
//! transaction, together with the claim of the freed slots' next queues.
//!
//! With one slot busy this is one result and one commit per job; with many
//! slots finishing at once, many results share a commit and a round trip
//! (group commit: ten per commit with ten slots whose jobs end at once, see
//! `BENCHMARKS.md`). Before it writes, the writer lets the results already
//! on their way join the batch; a batch holds one result per queue. A batch
//! never waits for a queue row that another transaction holds (a job
//! created in a caller's transaction that is still open): such a result is
//! written alone, in a task of its own that waits, while the batches go on.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use super::node::Shared;
use crate::defaults::RESULT_BATCH;
use crate::error::{Error, Result};
use crate::job::Job;
use crate::store::{self, Claimed, FinishBatch, JobFinish, NextClaim, Outcome, Store, Written};

/// A job claimed with a batch of results: the job, its lock token, and when
/// it was asked for.
pub(super) type Next = Option<(Claimed, i64, Instant)>;

/// What an attempt came to, owned so that it can wait for its batch.
pub(super) enum Report {
    Done,
    Failed {
        error: String,
        backoff: Duration,
        give_up: bool,
        keep_lock: bool,
    },
}

impl Report {
    fn outcome(&self) -> Outcome<'_> {
        match self {
            Report::Done => Outcome::Done,
            Report::Failed {
                error,
                backoff,
                give_up,
                keep_lock,
            } => Outcome::Failed {
                error,
                backoff: *backoff,
                give_up: *give_up,
                keep_lock: *keep_lock,
            },
        }
    }
}

/// One attempt's result, waiting for its batch: what the writer needs of
/// the job, not the job.
struct Request {
    queue: String,
    job_id: i64,
    attempt: u32,
    timeout: Duration,
    token: i64,
    result: Report,
    reply: oneshot::Sender<Result<Reply>>,
}

/// What became of one result.
pub(super) struct Reply {
    /// The job as stored, or [`crate::Error::LeaseLost`]: the lock was no
    /// longer the attempt's, and nothing was written.
    pub(super) job: Result<Job>,
    /// The job the slot runs next, claimed with the batch (even when this
    /// result was refused: the slot is free either way).
    pub(super) next: Next,
}

/// The way to a node's result writer; attempts hold clones. The writer
/// ends once every clone is dropped and the last batch is written.
#[derive(Clone)]
pub(super) struct Writer(mpsc::UnboundedSender<Request>);

impl Writer {
    /// Starts the writer of `shared`'s node.
    pub(super) fn spawn(shared: Arc<Shared>) -> (Writer, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Writer(tx), tokio::spawn(run(shared, rx)))
    }

    /// Writes the result of the attempt of `job` that ran under the lock
    /// `token`; returns what became of it and, unless the scheduler is
    /// stopping, the next job this slot may run (claimed in the same
    /// transaction), if any queue was ready.
    ///
    /// # Errors
    ///
    /// A database error that outlasted the retries: nothing was written.
    pub(super) async fn write(&self, job: &Job, token: i64, result: Report) -> Result<Reply> {
        let (reply, written) = oneshot::channel();
        self.0
            .send(Request {
                queue: job.queue.clone(),
                job_id: job.id,
                attempt: job.attempts,
                timeout: job.timeout,
                token,
                result,
                reply,
            })
            .expect("the result writer outlives the attempts");
        written
            .await
            .expect("the result writer answers every request")
    }
}

async fn run(shared: Arc<Shared>, mut requests: mpsc::UnboundedReceiver<Request>) {
    // Results written alone, each waiting for its queue's row, beside the
    // batches.
    let mut alone = JoinSet::new();
    let mut batch = Vec::with_capacity(RESULT_BATCH);
    // Results held back from the last batch: their queue had a result in it.
    let mut later = Vec::new();
    loop {
        if later.is_empty() {
            if requests.recv_many(&mut batch, RESULT_BATCH).await == 0 {
                break;
            }
            gather(&mut requests, &mut batch).await;
        } else {
            batch.append(&mut later);
            take_waiting(&mut requests, &mut batch);
        }
        let mut taken;
        (taken, later) = one_per_queue(std::mem::take(&mut batch));
        // The order the queue rows are tried in.
        taken.sort_by(|a, b| a.queue.cmp(&b.queue));
        match write_batch(&shared, &taken, false).await {
            Ok(replies) => {
                for (request, reply) in taken.into_iter().zip(replies) {
                    match reply {
                        Some(reply) => {
                            let _ = request.reply.send(Ok(reply));
                        }
                        // Another transaction holds its queue's row (a
                        // caller's open transaction that created a job in
                        // it, say): wait for it apart, not in the batches.
                        None => {
                            alone.spawn(write_alone(shared.clone(), request));
                        }
                    }
                }
            }
            Err(e) if taken.len() == 1 => {
                let _ = taken.pop().expect("one").reply.send(Err(e));
            }
            // A result the database refuses must not take its batch-mates
            // down with it: write each alone.
            Err(_) => {
                for request in taken {
                    alone.spawn(write_alone(shared.clone(), request));
                }
            }
        }
        while alone.try_join_next().is_some() {}
    }
    while alone.join_next().await.is_some() {}
}

/// Lets the attempts that are about to report join `batch` before it is
/// written: yields to the runtime while results keep arriving (up to
/// [`GATHER_ROUNDS`] times), and takes them. The replies of a batch wake
/// its slots together; without this, the first of them to report would
/// go alone, and the others in the next batch: a batch of one, then one
/// of the rest, in turn. Never a timed wait: a result waits only for
/// attempts already on their way.
async fn gather(requests: &mut mpsc::UnboundedReceiver<Request>, batch: &mut Vec<Request>) {
    for _ in 0..GATHER_ROUNDS {
        if batch.len() >= RESULT_BATCH {
            return;
        }
        let before = requests.len();
        tokio::task::yield_now().await;
        if requests.len() == before {
            break;
        }
    }
    take_waiting(requests, batch);
}

/// Adds the results already waiting to `batch`, up to [`RESULT_BATCH`].
fn take_waiting(requests: &mut mpsc::UnboundedReceiver<Request>, batch: &mut Vec<Request>) {
    while batch.len() < RESULT_BATCH {
        match requests.try_recv() {
            Ok(request) => batch.push(request),
            Err(_) => break,
        }
    }
}

/// How many times [`gather`] yields at most.
const GATHER_ROUNDS: usize = 16;

/// Splits `batch` into the first result of each queue, in arrival order,
/// and the others. A queue can have two results waiting: the late result
/// of an attempt whose lease ran out while this node could not write it (a
/// database restart, a frozen process), and the result of this node's own
/// later claim of that queue (which records the first attempt as
/// abandoned). The stores write a batch's results under their queues'
/// locks and match what they wrote to the results by job; two results of
/// one queue in one batch would be matched wrongly (the late one reported
/// as written). Each goes in a batch of its own turn instead: the one whose
/// lock is gone is refused.
fn one_per_queue(batch: Vec<Request>) -> (Vec<Request>, Vec<Request>) {
    let mut seen = std::collections::HashSet::with_capacity(batch.len());
    batch
        .into_iter()
        .partition(|r| seen.insert(r.queue.clone()))
}

/// Writes one result in a transaction of its own, waiting for its queue's
/// row, and answers its request.
async fn write_alone(shared: Arc<Shared>, request: Request) {
    let reply = write_batch(&shared, std::slice::from_ref(&request), true)
        .await
        .map(|mut replies| {
            // A write that waits is never busy.
            replies.pop().flatten().unwrap_or(Reply {
                job: Err(lost(&request)),
                next: None,
            })
        });
    let _ = request.reply.send(reply);
}

fn lost(request: &Request) -> Error {
    Error::LeaseLost {
        job_id: request.job_id,
        attempt: request.attempt,
    }
}

/// Writes `batch` in one transaction, trying again on transient errors for
/// as long as every lease may still be this node's; returns each request's
/// reply, or `None` for a busy one (not written: another transaction holds
/// its queue's row, and `wait` is false). The jobs claimed with it go to
/// the other requests' slots, in batch order.
async fn write_batch(shared: &Shared, batch: &[Request], wait: bool) -> Result<Vec<Option<Reply>>> {
    let within = batch
        .iter()
        .map(|r| (r.timeout + shared.config.lease_margin).max(Duration::from_secs(10)))
        .min()
        .unwrap_or(Duration::from_secs(10));
    let next = (!shared.stopping.load(Ordering::Acquire)).then(|| NextClaim {
        limit: u32::try_from(batch.len()).unwrap_or(u32::MAX),
        token: store::random_token(),
        lease_margin: shared.config.lease_margin,
        lease_cap: shared.config.lease_cap,
    });
    // Before the request: the lease the database grants starts later.
    let claimed_at = Instant::now();
    let finished = super::retrying("writing the results", within, || {
        shared.db.store.job_finish(FinishBatch {
            scope: &shared.scope,
            node: &shared.node,
            now: shared.clock.now(),
            results: batch
                .iter()
                .map(|r| JobFinish {
                    queue: &r.queue,
                    job_id: r.job_id,
                    attempt: r.attempt,
                    token: r.token,
                    outcome: r.result.outcome(),
                })
                .collect(),
            next,
            wait,
        })
    })
    .await?;
    let tried = finished
        .jobs
        .iter()
        .filter(|w| !matches!(w, Written::Busy))
        .count();
    if tried > 0 {
        shared.result_commits.fetch_add(1, Ordering::Relaxed);
        shared.results.fetch_add(tried as u64, Ordering::Relaxed);
    }
    if !finished.next.is_empty() {
        shared.claims.fetch_add(1, Ordering::Relaxed);
        shared
            .attempts
            .fetch_add(finished.next.len() as u64, Ordering::Relaxed);
    }
    let token = next.map_or(0, |n| n.token);
    let mut claimed = finished.next.into_iter();
    Ok(batch
        .iter()
        .zip(finished.jobs)
        .map(|(request, written)| {
            let job = match written {
                Written::Stored(job) => Ok(*job),
                Written::Lost => Err(lost(request)),
                Written::Busy => return None,
            };
            let next = claimed.next().map(|c| (c, token, claimed_at));
            if next
                .as_ref()
                .is_some_and(|(c, _, _)| c.job.queue != request.queue)
            {
                // This slot moved to a queue that had waited longer; its own
                // queue may be ready now: let the scheduler give it a slot.
                shared.wake.notify_one();
            }
            Some(Reply { job, next })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(queue: &str, job_id: i64, token: i64) -> Request {
        Request {
            queue: queue.to_owned(),
            job_id,
            attempt: 1,
            timeout: Duration::from_secs(1),
            token,
            result: Report::Done,
            reply: oneshot::channel().0,
        }
    }

    #[test]
    fn a_batch_takes_one_result_per_queue_and_keeps_the_others_in_order() {
        let batch = vec![
            request("a", 1, 10),
            request("b", 2, 20),
            request("a", 1, 11),
            request("c", 3, 30),
            request("a", 4, 12),
            request("b", 5, 21),
        ];
        let (taken, later) = one_per_queue(batch);
        let ids = |v: &[Request]| v.iter().map(|r| (r.job_id, r.token)).collect::<Vec<_>>();
        assert_eq!(ids(&taken), [(1, 10), (2, 20), (3, 30)]);
        assert_eq!(ids(&later), [(1, 11), (4, 12), (5, 21)]);
        // The next round takes the first of those.
        let (taken, later) = one_per_queue(later);
        assert_eq!(ids(&taken), [(1, 11), (5, 21)]);
        assert_eq!(ids(&later), [(4, 12)]);
    }
}
