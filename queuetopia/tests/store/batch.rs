//! A batch of results, at the level of the store: results written together,
//! a refused one alone left unwritten, one whose queue row another
//! transaction holds left alone when the batch does not wait, and one claim
//! for the freed slots in the same transaction.

use std::time::Duration;

use queuetopia::store::{
    FinishBatch, JobFinish, JobGet, JobInsert, NextClaim, Outcome, QueueClaim, QueueList, Store,
    Written,
};
use queuetopia::{JobOptions, NewJob};
use serde_json::json;

use crate::common::{Kind, TestDb, fresh};

/// A transaction of another connection that holds a queue's row, as a
/// caller's open transaction that created a job in it would.
enum Held {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    MySql(sqlx::Transaction<'static, sqlx::MySql>),
}

impl Held {
    async fn release(self) {
        match self {
            Held::Postgres(tx) => tx.rollback().await.unwrap(),
            Held::MySql(tx) => tx.rollback().await.unwrap(),
        }
    }
}

/// Locks queue `queue`'s row in a transaction of its own (PostgreSQL,
/// MySQL; SQLite has one writer at a time: `None`).
async fn hold(t: &TestDb, queue: &str) -> Option<Held> {
    let sql = format!(
        "SELECT 1 FROM queuetopia_queues WHERE scope = 's' AND queue = '{queue}' FOR UPDATE"
    );
    match t.kind {
        Kind::Postgres => {
            let mut tx = t.db.pg_pool().unwrap().begin().await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut *tx)
                .await
                .unwrap();
            Some(Held::Postgres(tx))
        }
        Kind::MySql => {
            let mut tx = t.db.mysql_pool().unwrap().begin().await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut *tx)
                .await
                .unwrap();
            Some(Held::MySql(tx))
        }
        Kind::Sqlite => None,
    }
}

fn job(queue: &str) -> NewJob {
    NewJob::new(queue, "x", json!({}), JobOptions::default()).unwrap()
}

async fn a_batch_writes_each_result_and_claims_once(kind: Kind, wait: bool) {
    let t = fresh(kind).await;
    let store = t.db.store();
    let jobs = ["a", "b", "c", "c", "d"].map(job);
    store
        .job_insert(JobInsert {
            scope: "s",
            jobs: &jobs,
            now: None,
            notify: false,
        })
        .await
        .unwrap();
    let token = 1;
    let claim = QueueClaim {
        scope: "s",
        node: "n",
        limit: 3,
        now: None,
        token,
        lease_margin: Duration::from_secs(1),
        lease_cap: None,
    };
    let claimed = store.queue_claim(claim).await.unwrap().claimed;
    let mut queues: Vec<&str> = claimed.iter().map(|c| c.job.queue.as_str()).collect();
    queues.sort_unstable();
    assert_eq!(queues, ["a", "b", "c"]);
    let of = |queue: &str| &claimed.iter().find(|c| c.job.queue == queue).unwrap().job;
    let (a, b, c) = (of("a"), of("b"), of("c"));
    // Without waiting, c's row held elsewhere leaves its result alone.
    let held = match wait {
        true => None,
        false => hold(&t, "c").await,
    };
    let finished = store
        .job_finish(FinishBatch {
            scope: "s",
            node: "n",
            now: None,
            results: vec![
                JobFinish {
                    queue: "a",
                    job_id: a.id,
                    attempt: a.attempts,
                    token,
                    outcome: Outcome::Done,
                },
                // Not this attempt's lock any more: refused, alone.
                JobFinish {
                    queue: "b",
                    job_id: b.id,
                    attempt: b.attempts,
                    token: token + 1,
                    outcome: Outcome::Done,
                },
                JobFinish {
                    queue: "c",
                    job_id: c.id,
                    attempt: c.attempts,
                    token,
                    outcome: Outcome::Failed {
                        error: "e",
                        backoff: Duration::from_secs(3600),
                        give_up: false,
                        keep_lock: false,
                    },
                },
            ],
            next: Some(NextClaim {
                limit: 3,
                token: 2,
                lease_margin: Duration::from_secs(1),
                lease_cap: None,
            }),
            wait,
        })
        .await
        .unwrap();
    let busy = held.is_some();
    if let Some(held) = held {
        held.release().await;
    }
    assert_eq!(finished.jobs.len(), 3);
    let Written::Stored(done) = &finished.jobs[0] else {
        panic!("{:?}", finished.jobs[0])
    };
    assert!(done.done_at.is_some() && done.id == a.id);
    assert!(matches!(finished.jobs[1], Written::Lost));
    match busy {
        true => assert!(matches!(finished.jobs[2], Written::Busy)),
        false => {
            let Written::Stored(failed) = &finished.jobs[2] else {
                panic!("{:?}", finished.jobs[2])
            };
            assert_eq!((failed.id, failed.error.as_deref()), (c.id, Some("e")));
        }
    }
    // b stays locked, c waits for its backoff (or for its result, busy), a
    // is empty: only d is ready.
    let next: Vec<_> = finished.next.iter().map(|c| c.job.queue.as_str()).collect();
    assert_eq!(next, ["d"]);
    assert_eq!(finished.next[0].job.attempts, 1);
    for (job, running) in [(b, true), (c, busy)] {
        let get = JobGet {
            scope: "s",
            id: job.id,
        };
        let (now, is_running) = store.job_get(get).await.unwrap().unwrap();
        assert!(now.done_at.is_none() && is_running == running, "{now:?}");
        assert_eq!(now.error.is_none(), busy || job.id == b.id, "{now:?}");
    }
    let list = QueueList {
        scope: "s",
        now: None,
    };
    let queues = store.queue_list(list).await.unwrap();
    let lock = |queue: &str| {
        queues
            .iter()
            .find(|q| q.queue == queue)
            .and_then(|q| q.lock.as_ref())
            .map(|l| l.running_job_id)
    };
    assert_eq!(lock("b"), Some(Some(b.id)));
    assert_eq!(lock("c"), busy.then_some(Some(c.id)));
    assert_eq!(lock("d"), Some(Some(finished.next[0].job.id)));
}

async fn a_batch_waits_for_held_rows(kind: Kind) {
    a_batch_writes_each_result_and_claims_once(kind, true).await
}

async fn a_batch_that_does_not_wait_leaves_held_rows_alone(kind: Kind) {
    a_batch_writes_each_result_and_claims_once(kind, false).await
}

behaviour_tests!(
    a_batch_waits_for_held_rows,
    a_batch_that_does_not_wait_leaves_held_rows_alone,
);
