//! The suite's table language: a case is the steps that set a state up,
//! that state, one operation with what it must return, and the state after
//! it. Steps run on a pinned clock, `at` seconds after the case's start.
//!
//! A state is one line per job, in creation order, then one per queue the
//! store lists:
//!
//! - `a1 pending`, `a1 running #1`, `a1 retrying #1 until +61`,
//!   `a1 held #1`, `a1 done #1`, `a1 given_up #2`, `a1 gone`: the job
//!   labelled `a1` (the first job created in queue `a`), its state, its
//!   attempts, and when a failed job may run again;
//! - `queue a: head a1, blocked, paused by op since +1, locked by n1 until
//!   +15 for a1`: the queue's head, whether it is blocked (`blocked`, or
//!   `held` when it waits for an operator), paused, and its live lock: node,
//!   end of the lease, and the job running under it, if any.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use queuetopia::store::{
    Claimed, DeleteOlder, FinishBatch, JobAct, JobAction, JobFinish, JobGet, JobInsert,
    LockReleaseAll, LockRenewal, NextClaim, Outcome, QueueClaim, QueueList, QueuePause, QueuePrune,
    Store, Written,
};
use queuetopia::{Error, ExhaustionPolicy, Job, JobOptions, NewJob};
use serde_json::json;

use crate::common::{Kind, fresh};

/// Every job's timeout; a lease lasts the timeout plus [`LEASE_MARGIN`].
pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);
/// Added to a job's timeout to make its lease: leases last 15 s.
pub(crate) const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// One row of the table.
pub(crate) struct Case<'a> {
    /// The steps that set the state up, each checked as it runs.
    pub given: &'a [Step],
    /// The state they leave.
    pub before: &'a [&'a str],
    /// The operation under test, with what it must return.
    pub when: Step,
    /// The state it leaves.
    pub after: &'a [&'a str],
}

/// One store operation, at second `at` of the case, with what it must return.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step {
    /// Creates jobs, labelled `<queue><n>`; `wake` is whether the store
    /// says some scheduler should look.
    Create {
        at: u64,
        jobs: &'static [&'static str],
        options: Options,
        wake: bool,
    },
    /// `node` claims up to `limit` queues: the heads it `takes`, each
    /// `label` or `label abandoned` (in any order).
    Claim {
        at: u64,
        node: &'static str,
        limit: u32,
        takes: &'static [&'static str],
    },
    /// `node` writes the result of its attempt of `job`, under the lock its
    /// claim took; with `next`, claims up to that many queues with it.
    Finish {
        at: u64,
        node: &'static str,
        job: &'static str,
        ending: Ending,
        next: Option<u32>,
        written: Was,
        takes: &'static [&'static str],
    },
    /// An operator's action on `job`; `refused` when the store must refuse it.
    Act {
        at: u64,
        job: &'static str,
        action: Action,
        refused: bool,
    },
    /// The operator `op` pauses (or resumes) `queue`.
    Pause {
        at: u64,
        queue: &'static str,
        pause: bool,
        refused: bool,
    },
    /// `node` renews the lease of its attempt of `job` for `lease` seconds.
    Renew {
        at: u64,
        node: &'static str,
        job: &'static str,
        lease: u64,
        renewed: bool,
    },
    /// `node` releases its locks that have no running attempt.
    ReleaseAll { node: &'static str, released: u64 },
    /// Deletes done jobs older than `older_than` seconds.
    DeleteDone {
        at: u64,
        older_than: u64,
        deleted: u64,
    },
    /// Deletes the rows of queues with nothing left.
    Prune { at: u64, pruned: u64 },
}

/// An operator's action.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Action {
    Retry,
    Skip,
    Cancel,
    /// Replaces the params with `{"edited": true}`.
    Edit,
}

/// The options of the jobs a [`Step::Create`] makes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Options {
    /// The defaults, with the suite's timeout.
    Plain,
    /// One attempt, then the queue waits for an operator.
    HoldAfterOne,
    /// Not to run before second `at` of the case.
    ScheduledAt(u64),
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ending {
    Succeeded,
    /// Failed; the next attempt in `backoff` seconds.
    Failed {
        backoff: u64,
    },
    /// Timed out: failed, and the queue keeps its lock until the lease ends.
    TimedOut {
        backoff: u64,
    },
    /// Failed and given up.
    GivenUp,
}

/// What became of a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Was {
    Stored,
    /// Refused: the lock is no longer the attempt's.
    Lost,
}

/// Runs `case` on a fresh database of `kind`.
pub(crate) async fn check(kind: Kind, case: Case<'_>) {
    let t = fresh(kind).await;
    let store = t.db.store();
    let start = Utc::now();
    let start = DateTime::from_timestamp(start.timestamp(), 0).expect("a valid time");
    let mut world = World {
        store,
        start,
        now: start,
        jobs: Vec::new(),
        locks: HashMap::new(),
    };
    for step in case.given {
        world.run(step).await;
    }
    world.expect("before", case.before).await;
    world.run(&case.when).await;
    world.expect("after", case.after).await;
}

/// A case's store, clock and names.
struct World<'a, S> {
    store: &'a S,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    /// Labels and ids, in creation order.
    jobs: Vec<(String, i64)>,
    /// The token and attempt of each node's last claim of each job.
    locks: HashMap<(String, String), (i64, u32)>,
}

const SCOPE: &str = "s";

impl<S: Store> World<'_, S> {
    fn at(&mut self, at: u64) -> Option<DateTime<Utc>> {
        self.now = self.start + chrono::Duration::seconds(at as i64);
        Some(self.now)
    }

    fn id(&self, label: &str) -> i64 {
        let found = self.jobs.iter().find(|(l, _)| l == label);
        found.unwrap_or_else(|| panic!("no job {label}")).1
    }

    fn label(&self, id: i64) -> String {
        let found = self.jobs.iter().find(|(_, i)| *i == id);
        found.map_or_else(|| format!("#{id}"), |(l, _)| l.clone())
    }

    /// Records what a claim took under `token`; returns it as the table says it.
    fn took(&mut self, node: &str, token: i64, claimed: &[Claimed]) -> Vec<String> {
        let mut took: Vec<String> = claimed
            .iter()
            .map(|c| {
                let label = self.label(c.job.id);
                self.locks
                    .insert((node.to_owned(), label.clone()), (token, c.job.attempts));
                match c.abandoned {
                    true => format!("{label} abandoned"),
                    false => label,
                }
            })
            .collect();
        took.sort();
        took
    }

    async fn run(&mut self, step: &Step) {
        match *step {
            Step::Create {
                at,
                jobs,
                options,
                wake,
            } => {
                let now = self.at(at);
                let new: Vec<NewJob> = jobs.iter().map(|l| self.new_job(l, options)).collect();
                let inserted = self
                    .store
                    .job_insert(JobInsert {
                        scope: SCOPE,
                        jobs: &new,
                        now,
                        notify: false,
                    })
                    .await
                    .unwrap_or_else(|e| panic!("{step:?}: {e}"));
                for (label, job) in jobs.iter().zip(&inserted.jobs) {
                    self.jobs.push(((*label).to_owned(), job.id));
                }
                assert_eq!(inserted.wake, wake, "{step:?}: wake");
            }
            Step::Claim {
                at,
                node,
                limit,
                takes,
            } => {
                let now = self.at(at);
                let token = new_token();
                let batch = self
                    .store
                    .queue_claim(QueueClaim {
                        scope: SCOPE,
                        node,
                        limit,
                        now,
                        token,
                        lease_margin: LEASE_MARGIN,
                        lease_cap: None,
                    })
                    .await
                    .unwrap_or_else(|e| panic!("{step:?}: {e}"));
                let took = self.took(node, token, &batch.claimed);
                assert_eq!(took, sorted(takes), "{step:?}: the heads claimed");
            }
            Step::Finish {
                at,
                node,
                job,
                ending,
                next,
                written,
                takes,
            } => {
                let now = self.at(at);
                let (token, attempt) = *self
                    .locks
                    .get(&(node.to_owned(), job.to_owned()))
                    .unwrap_or_else(|| panic!("{step:?}: {node} never claimed {job}"));
                let outcome = match ending {
                    Ending::Succeeded => Outcome::Done,
                    Ending::Failed { backoff } | Ending::TimedOut { backoff } => Outcome::Failed {
                        error: "boom",
                        backoff: Duration::from_secs(backoff),
                        give_up: false,
                        keep_lock: matches!(ending, Ending::TimedOut { .. }),
                    },
                    Ending::GivenUp => Outcome::Failed {
                        error: "boom",
                        backoff: Duration::ZERO,
                        give_up: true,
                        keep_lock: false,
                    },
                };
                let next = next.map(|limit| NextClaim {
                    limit,
                    token: new_token(),
                    lease_margin: LEASE_MARGIN,
                    lease_cap: None,
                });
                let finished = self
                    .store
                    .job_finish(FinishBatch {
                        scope: SCOPE,
                        node,
                        now,
                        results: vec![JobFinish {
                            queue: queue_of(job),
                            job_id: self.id(job),
                            attempt,
                            token,
                            outcome,
                        }],
                        next,
                        wait: true,
                    })
                    .await
                    .unwrap_or_else(|e| panic!("{step:?}: {e}"));
                let was = match &finished.jobs[..] {
                    [Written::Stored(_)] => Was::Stored,
                    [Written::Lost] => Was::Lost,
                    other => panic!("{step:?}: written {other:?}"),
                };
                assert_eq!(was, written, "{step:?}: the result");
                let token = next.map_or(0, |n| n.token);
                let took = self.took(node, token, &finished.next);
                assert_eq!(took, sorted(takes), "{step:?}: the heads claimed with it");
            }
            Step::Act {
                at,
                job,
                action,
                refused,
            } => {
                let now = self.at(at);
                let id = self.id(job);
                let edited = json!({ "edited": true })
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                let action = match action {
                    Action::Retry => JobAction::Retry,
                    Action::Skip => JobAction::Skip,
                    Action::Cancel => JobAction::Cancel,
                    Action::Edit => JobAction::Edit { params: &edited },
                };
                let acted = self
                    .store
                    .job_act(JobAct {
                        scope: SCOPE,
                        id,
                        action,
                        actor: "op",
                        reason: None,
                        now,
                    })
                    .await;
                match (acted, refused) {
                    (Ok(job), false) => assert_eq!(job.id, id, "{step:?}"),
                    (Err(Error::JobState { id: refused_id, .. }), true) => {
                        assert_eq!(refused_id, id, "{step:?}")
                    }
                    (other, _) => panic!("{step:?}: {other:?}"),
                }
            }
            Step::Pause {
                at,
                queue,
                pause,
                refused,
            } => {
                let now = self.at(at);
                let done = self
                    .store
                    .queue_pause(QueuePause {
                        scope: SCOPE,
                        queue,
                        pause,
                        actor: "op",
                        reason: None,
                        now,
                    })
                    .await;
                match (done, refused) {
                    (Ok(()), false) => {}
                    (Err(Error::QueueState { queue: q, .. }), true) => assert_eq!(q, queue),
                    (other, _) => panic!("{step:?}: {other:?}"),
                }
            }
            Step::Renew {
                at,
                node,
                job,
                lease,
                renewed,
            } => {
                let now = self.at(at);
                let (token, _) = self.locks[&(node.to_owned(), job.to_owned())];
                let done = self
                    .store
                    .lock_renew(LockRenewal {
                        scope: SCOPE,
                        queue: queue_of(job),
                        job_id: self.id(job),
                        node,
                        token,
                        lease: Duration::from_secs(lease),
                        now,
                    })
                    .await
                    .unwrap_or_else(|e| panic!("{step:?}: {e}"));
                assert_eq!(done, renewed, "{step:?}: renewed");
            }
            Step::ReleaseAll { node, released } => {
                let done = self
                    .store
                    .lock_release_all(LockReleaseAll { scope: SCOPE, node })
                    .await
                    .unwrap_or_else(|e| panic!("{step:?}: {e}"));
                assert_eq!(done, released, "{step:?}: released");
            }
            Step::DeleteDone {
                at,
                older_than,
                deleted,
            } => {
                let now = self.at(at);
                let done = self
                    .store
                    .job_delete_done(DeleteOlder {
                        scope: SCOPE,
                        older_than: Duration::from_secs(older_than),
                        limit: 100,
                        now,
                    })
                    .await
                    .unwrap_or_else(|e| panic!("{step:?}: {e}"));
                assert_eq!(done, deleted, "{step:?}: deleted");
            }
            Step::Prune { at, pruned } => {
                let now = self.at(at);
                let done = self
                    .store
                    .queue_prune(QueuePrune {
                        scope: SCOPE,
                        limit: 100,
                        now,
                    })
                    .await
                    .unwrap_or_else(|e| panic!("{step:?}: {e}"));
                assert_eq!(done, pruned, "{step:?}: pruned");
            }
        }
    }

    fn new_job(&self, label: &str, options: Options) -> NewJob {
        let plain = JobOptions::default().timeout(TIMEOUT);
        let options = match options {
            Options::Plain => plain,
            Options::HoldAfterOne => plain.max_attempts(1).on_exhausted(ExhaustionPolicy::Hold),
            Options::ScheduledAt(at) => {
                plain.scheduled_at(self.start + chrono::Duration::seconds(at as i64))
            }
        };
        NewJob::new(queue_of(label), "x", json!({ "label": label }), options)
            .unwrap_or_else(|e| panic!("job {label}: {e}"))
    }

    /// Checks the state against the table's lines.
    async fn expect(&self, when: &str, lines: &[&str]) {
        let mut found = Vec::new();
        for (label, id) in &self.jobs {
            let job = self
                .store
                .job_get(JobGet {
                    scope: SCOPE,
                    id: *id,
                })
                .await
                .unwrap_or_else(|e| panic!("reading {label}: {e}"));
            found.push(match job {
                Some((job, running)) => self.job_line(label, &job, running),
                None => format!("{label} gone"),
            });
        }
        let queues = self
            .store
            .queue_list(QueueList {
                scope: SCOPE,
                now: Some(self.now),
            })
            .await
            .unwrap_or_else(|e| panic!("listing the queues: {e}"));
        for q in queues {
            let mut line = format!("queue {}: head ", q.queue);
            line += &q.head.map_or("-".to_owned(), |h| self.label(h.id));
            if let Some(blocked) = q.blocked {
                line += if blocked.held { ", held" } else { ", blocked" };
            }
            if let Some(paused) = q.paused {
                line += &format!(
                    ", paused by {} since {}",
                    paused.by,
                    self.offset(paused.since)
                );
            }
            if let Some(lock) = q.lock {
                line += &format!(
                    ", locked by {} until {}",
                    lock.node,
                    self.offset(lock.until)
                );
                if let Some(id) = lock.running_job_id {
                    line += &format!(" for {}", self.label(id));
                }
            }
            found.push(line);
        }
        let expected: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        assert_eq!(found, expected, "the state {when} the operation");
    }

    fn job_line(&self, label: &str, job: &Job, running: bool) -> String {
        let state = if job.done_at.is_some() {
            "done"
        } else if job.given_up_at.is_some() {
            "given_up"
        } else if running {
            "running"
        } else if job.attempts >= job.max_attempts {
            "held"
        } else if job.attempts > 0 {
            "retrying"
        } else {
            "pending"
        };
        let mut line = format!("{label} {state}");
        if job.attempts > 0 {
            line += &format!(" #{}", job.attempts);
        }
        if let (Some(next), "retrying") = (job.next_attempt_at, state) {
            line += &format!(" until {}", self.offset(next));
        }
        line
    }

    /// A time as seconds after the case's start: `+15`, or `+15.250`.
    fn offset(&self, t: DateTime<Utc>) -> String {
        let ms = (t - self.start).num_milliseconds();
        match ms % 1000 {
            0 => format!("+{}", ms / 1000),
            _ => format!("+{:.3}", ms as f64 / 1000.0),
        }
    }
}

/// The queue of a job's label: `a` for `a1`.
fn queue_of(label: &str) -> &str {
    label.trim_end_matches(|c: char| c.is_ascii_digit())
}

/// A lock token no other claim of the run has used.
fn new_token() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static NEXT: AtomicI64 = AtomicI64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn sorted(labels: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = labels.iter().map(|l| (*l).to_owned()).collect();
    out.sort();
    out
}
