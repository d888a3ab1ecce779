//! A batch of results on every backend, at the level of the store: results
//! written together, a refused one alone left unwritten, one whose queue row
//! another transaction holds left alone when the batch does not wait, and
//! one claim for the freed slots in the same transaction.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::json;

use super::{FinishBatch, JobFinish, NextClaim, Outcome, QueueClaim, Store, Written, random_token};
use crate::job::{JobOptions, NewJob};
use crate::{Db, Tables};

/// A database of `backend` with tables of their own (a prefix), migrated;
/// the tables are dropped at the end of the test (and SQLite's file).
async fn fresh(backend: &str) -> (Db, String, Option<std::path::PathBuf>) {
    let prefix = format!("qtu{:x}_", random_token() % 0xffff_ffff);
    let file = std::env::temp_dir().join(format!("{prefix}batch.db"));
    let url = match backend {
        "postgres" => super::test_url(crate::Backend::Postgres).expect("a server"),
        "mysql" => super::test_url(crate::Backend::MySql).expect("a server"),
        _ => format!("sqlite://{}", file.display()),
    };
    let db = Db::connect_with(&url, Tables::default().prefix(&prefix))
        .await
        .unwrap_or_else(|e| {
            panic!("{backend} is not reachable at {url} ({e}): scripts/services starts it")
        });
    db.migrate().await.unwrap();
    (db, prefix, (backend == "sqlite").then_some(file))
}

/// Drops what `migrate_to(0)` leaves: the table of applied migrations.
async fn drop_migrations_table(db: &Db, prefix: &str) {
    let sql = format!("DROP TABLE {prefix}migrations");
    #[cfg(feature = "postgres")]
    if let Some(pool) = db.pg_pool() {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(pool)
            .await
            .unwrap();
    }
    #[cfg(feature = "mysql")]
    if let Some(pool) = db.mysql_pool() {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(pool)
            .await
            .unwrap();
    }
}

/// A transaction of another connection that holds a queue's row, as a
/// caller's open transaction that created a job in it would.
enum Held {
    #[cfg(feature = "postgres")]
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    #[cfg(feature = "mysql")]
    MySql(sqlx::Transaction<'static, sqlx::MySql>),
}

impl Held {
    async fn release(self) {
        match self {
            #[cfg(feature = "postgres")]
            Held::Postgres(tx) => tx.rollback().await.unwrap(),
            #[cfg(feature = "mysql")]
            Held::MySql(tx) => tx.rollback().await.unwrap(),
        }
    }
}

/// Locks queue `queue`'s row of scope `s` in a transaction of its own
/// (PostgreSQL, MySQL; SQLite has one writer at a time: `None`).
async fn hold(db: &Db, prefix: &str, queue: &str) -> Option<Held> {
    let sql =
        format!("SELECT 1 FROM {prefix}queues WHERE scope = 's' AND queue = '{queue}' FOR UPDATE");
    #[cfg(feature = "postgres")]
    if let Some(pool) = db.pg_pool() {
        let mut tx = pool.begin().await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        return Some(Held::Postgres(tx));
    }
    #[cfg(feature = "mysql")]
    if let Some(pool) = db.mysql_pool() {
        let mut tx = pool.begin().await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        return Some(Held::MySql(tx));
    }
    None
}

fn job(queue: &str) -> NewJob {
    NewJob::new(queue, "x", json!({}), JobOptions::default()).unwrap()
}

async fn a_batch_writes_each_result_and_claims_once(backend: &str, wait: bool) {
    let (db, prefix, file) = fresh(backend).await;
    let store = &db.store;
    let jobs = ["a", "b", "c", "c", "d"].map(job);
    store.job_insert("s", &jobs, None, false).await.unwrap();
    let token = random_token();
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
    let next_token = random_token();
    // Without waiting, c's row held elsewhere leaves its result alone.
    let held = match wait {
        true => None,
        false => hold(&db, &prefix, "c").await,
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
                token: next_token,
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
        let (now, is_running) = store.job_get("s", job.id).await.unwrap().unwrap();
        assert!(now.done_at.is_none() && is_running == running, "{now:?}");
        assert_eq!(now.error.is_none(), busy || job.id == b.id, "{now:?}");
    }
    let queues = store.queue_list("s", None).await.unwrap();
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
    db.migrate_to(0).await.unwrap();
    drop_migrations_table(&db, &prefix).await;
    if let Some(file) = file {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
    }
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_batch() {
    a_batch_writes_each_result_and_claims_once("postgres", true).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_batch_without_waiting() {
    a_batch_writes_each_result_and_claims_once("postgres", false).await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql_batch() {
    a_batch_writes_each_result_and_claims_once("mysql", true).await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql_batch_without_waiting() {
    a_batch_writes_each_result_and_claims_once("mysql", false).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_batch() {
    a_batch_writes_each_result_and_claims_once("sqlite", true).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_batch_without_waiting() {
    a_batch_writes_each_result_and_claims_once("sqlite", false).await;
}
