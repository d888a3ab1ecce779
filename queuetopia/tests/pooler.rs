#![allow(clippy::unwrap_used)]
//! PostgreSQL behind PgBouncer in transaction mode (127.0.0.1:6433, started
//! by `scripts/services` from `scripts/pgbouncer.ini`): a pooler that hands
//! the server connection to another client after every transaction. Every
//! test here runs the library through it, in its own schema.

mod common;

use std::time::Duration;

use common::{Script, eventually, wait_event, wait_successes};
use queuetopia::{Db, Error, Event, JobFilter, JobOptions, JobState, NewJob, Queuetopia, Tables};
use serde_json::json;
use sqlx::Row;

fn bouncer_url() -> String {
    std::env::var("QUEUETOPIA_TEST_PGBOUNCER_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:6433/test".to_owned())
}

/// A fresh schema of the test PostgreSQL, and a handle on it through the
/// pooler, migrated.
async fn through_pooler() -> Db {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let schema = format!("qt_{secs}_pool_{}", common::unique());
    let db = Db::connect_with(&bouncer_url(), Tables::default().schema(&schema))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PgBouncer is not reachable at {} ({e}); `scripts/services` starts it",
                bouncer_url()
            )
        })
        .transaction_pooler()
        .unwrap();
    db.migrate().await.unwrap();
    db
}

fn node(db: &Db, script: &Script) -> queuetopia::Builder {
    Queuetopia::builder(db.clone(), script.clone())
        .scope("s")
        .node(script.node.clone())
        .poll_interval(Duration::from_millis(200))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pooler_runs_in_transaction_mode() {
    // The admin console speaks the simple protocol only: raw_sql.
    use sqlx::Connection;
    let admin = bouncer_url().replace("/test", "/pgbouncer");
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    let rows = sqlx::raw_sql("SHOW CONFIG")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let mode = rows
        .iter()
        .find(|r| r.try_get::<String, _>("key").ok().as_deref() == Some("pool_mode"))
        .map(|r| r.try_get::<String, _>("value").unwrap());
    assert_eq!(mode.as_deref(), Some("transaction"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_run_every_queue_in_order_through_the_pooler() {
    let db = through_pooler().await;
    assert!(!db.capabilities().notifications);
    let script = Script::new("a");
    let a = node(&db, &script).start().await.unwrap();
    let b = node(&db, &script.sibling("b")).start().await.unwrap();
    // A producer of its own: no local wake-up, the nodes find every job by
    // polling, the only way behind a transaction pooler.
    let producer = node(&db, &script).build().await.unwrap();
    let mut created = Vec::new();
    // One by one, in batches, and inside the caller's transactions.
    for k in 0..5 {
        for i in 0..4 {
            let params = json!({"i": i, "fail_times": i64::from(i == 1)});
            created.push(
                producer
                    .create_job(format!("q{k}"), "a", params, JobOptions::default())
                    .await
                    .unwrap(),
            );
        }
        let batch: Vec<NewJob> = (4..8)
            .map(|i| {
                NewJob::new(format!("q{k}"), "a", json!({"i": i}), JobOptions::default()).unwrap()
            })
            .collect();
        created.extend(producer.create_jobs(batch).await.unwrap());
        let pool = db.pg_pool().unwrap();
        let mut tx = pool.begin().await.unwrap();
        for i in 8..10 {
            created.push(
                producer
                    .create_job_in(
                        &mut *tx,
                        format!("q{k}"),
                        "a",
                        json!({"i": i}),
                        JobOptions::default(),
                    )
                    .await
                    .unwrap(),
            );
        }
        tx.commit().await.unwrap();
    }
    eventually("every job done", || async {
        a.list_jobs(&JobFilter::default().state(JobState::Done).limit(100))
            .await
            .is_ok_and(|page| page.jobs.len() == created.len())
    })
    .await;
    assert_eq!(script.overlaps.load(std::sync::atomic::Ordering::SeqCst), 0);
    for k in 0..5 {
        let queue = format!("q{k}");
        let expected: Vec<i64> = created
            .iter()
            .filter(|j| j.queue == queue)
            .map(|j| j.id)
            .collect();
        let mut order = script.order(&queue);
        // The failed first attempt of the second job runs again at once.
        order.dedup();
        assert_eq!(order, expected, "{queue}");
    }
    // Neither node holds a lock once stopped.
    a.shutdown(Duration::from_secs(5)).await.unwrap();
    b.shutdown(Duration::from_secs(5)).await.unwrap();
    let queues = a.list_queues().await.unwrap();
    assert!(queues.iter().all(|q| q.lock.is_none() && q.size == 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_and_long_jobs_work_through_the_pooler() {
    let db = through_pooler().await;
    let script = Script::new("a");
    let q = node(&db, &script)
        .renewed_lease(Duration::from_millis(600))
        .lease_margin(Duration::from_millis(200))
        .retention(Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    let mut events = q.subscribe();
    // A job that fails for ever holds its queue; the operator skips it.
    let stuck = q
        .create_job(
            "held",
            "a",
            json!({"fail_times": 1000, "backoff_ms": 60_000}),
            JobOptions::default().on_exhausted(queuetopia::ExhaustionPolicy::Hold),
        )
        .await
        .unwrap();
    let behind = q
        .create_job("held", "a", json!({}), JobOptions::default())
        .await
        .unwrap();
    wait_event(
        &mut events,
        "the stuck job's failure",
        |e| matches!(e, Event::Failed { job, .. } if job.id == stuck.id),
    )
    .await;
    let info = q.list_queues().await.unwrap();
    assert_eq!(info[0].blocked.as_ref().map(|b| b.job_id), Some(stuck.id));
    q.skip_job(stuck.id).await.unwrap();
    let done = wait_successes(&mut events, 1).await;
    assert_eq!(done[0].id, behind.id);
    assert_eq!(q.get_job(stuck.id).await.unwrap().state, JobState::GivenUp);
    // A job that runs past several leases keeps its queue by renewing it.
    let long = q
        .create_job(
            "long",
            "a",
            json!({"gate": "long"}),
            JobOptions::default().timeout(Duration::from_secs(20)),
        )
        .await
        .unwrap();
    eventually("the long job runs", || async {
        script.in_flight("long") == 1
    })
    .await;
    let before = q.list_queues().await.unwrap();
    let until = |qs: &[queuetopia::QueueInfo]| {
        qs.iter()
            .find(|i| i.queue == "long")
            .and_then(|i| i.lock.as_ref().map(|l| l.until))
    };
    let first = until(&before).unwrap();
    eventually("the lease is renewed", || async {
        until(&q.list_queues().await.unwrap()).is_some_and(|u| u > first)
    })
    .await;
    script.open("long");
    let done = wait_successes(&mut events, 1).await;
    assert_eq!(done[0].id, long.id);
    assert_eq!(script.order("long"), vec![long.id]);
    // Reading and cleaning up.
    let page = q.list_jobs(&JobFilter::default()).await.unwrap();
    assert_eq!(page.jobs.len(), 3);
    assert_eq!(q.delete_done_jobs(Duration::ZERO).await.unwrap(), 2);
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_postgres_runs_behind_a_transaction_pooler() {
    let file = std::env::temp_dir().join(format!("queuetopia-pooler-{}.db", common::unique()));
    let db = queuetopia::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    assert!(matches!(
        db.transaction_pooler(),
        Err(Error::Validation {
            field: "transaction_pooler",
            ..
        })
    ));
    let _ = std::fs::remove_file(file);
}
