#![allow(clippy::unwrap_used)]
//! PostgreSQL's functions run with generic plans, made once per session on
//! the statistics of that moment. Here the tables are analyzed while empty
//! (as a new installation's are), then filled with thousands of ready
//! queues, and a new session claims and writes results. The transaction's
//! own table statistics (`pg_stat_get_xact_tuples_returned`, no waiting, no
//! timing) then tell how many rows of each table a call read: a handful,
//! never every queue or job of the scope. (The scheduler's prune of empty
//! queue rows runs on the pool, out of the test's reach; its plan was
//! checked with `EXPLAIN`.)

mod common;

use std::str::FromStr;

use common::{Kind, TestDb, fresh, postgres_url};
use queuetopia::{JobOptions, NewJob, Queuetopia};
use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, Row};

const QUEUES: usize = 3000;

/// A scope `s` of `QUEUES` ready queues, one job each, in tables analyzed
/// while empty, and a new session on them.
async fn ready_queues_on_empty_statistics() -> (TestDb, PgConnection) {
    let t = fresh(Kind::Postgres).await;
    let pool = t.db.pg_pool().unwrap();
    sqlx::raw_sql("ANALYZE queuetopia_jobs; ANALYZE queuetopia_queues")
        .execute(pool)
        .await
        .unwrap();
    let q = Queuetopia::producer(t.db.clone())
        .scope("s")
        .build()
        .await
        .unwrap();
    for batch in 0..QUEUES / 1000 {
        let jobs = (0..1000).map(|i| {
            let queue = format!("q{}", batch * 1000 + i);
            NewJob::new(queue, "a", json!({}), JobOptions::default()).unwrap()
        });
        q.create_jobs(jobs).await.unwrap();
    }
    let schema = t.schema.clone().unwrap();
    let options = PgConnectOptions::from_str(&postgres_url())
        .unwrap()
        .options([("search_path", schema.as_str())]);
    let conn = PgConnection::connect_with(&options).await.unwrap();
    (t, conn)
}

/// Rows of `table` read so far in this transaction: by scans of the table
/// itself, and entries read from each of its indexes.
async fn rows_read(tx: &mut PgConnection, table: &str) -> i64 {
    sqlx::query(
        "SELECT (pg_stat_get_xact_tuples_returned($1::regclass)
                 + COALESCE(sum(pg_stat_get_xact_tuples_returned(i.indexrelid)), 0))::bigint AS n
         FROM pg_index i WHERE i.indrelid = $1::regclass",
    )
    .bind(table)
    .fetch_one(tx)
    .await
    .unwrap()
    .get("n")
}

/// Checks that no more than `most` rows of each table were read so far.
async fn read_at_most(tx: &mut PgConnection, most: i64, what: &str) {
    for table in ["queuetopia_queues", "queuetopia_jobs"] {
        let read = rows_read(tx, table).await;
        assert!(read <= most, "{what} read {read} rows of {table}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_reads_the_queues_it_takes_not_the_scope() {
    let (_t, mut conn) = ready_queues_on_empty_statistics().await;
    let mut tx = conn.begin().await.unwrap();
    let rows = sqlx::query("SELECT role FROM queuetopia_claim('s', NULL, 10, 'n', 1000, 1, NULL)")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    let claimed = rows
        .iter()
        .filter(|r| r.get::<String, _>("role") == "claimed")
        .count();
    assert_eq!(claimed, 10);
    read_at_most(&mut tx, 100, "a claim of 10 queues").await;
    tx.rollback().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_results_locks_its_queues_by_key() {
    let (_t, mut conn) = ready_queues_on_empty_statistics().await;
    let mut tx = conn.begin().await.unwrap();
    // Results of attempts nobody holds a lock for: each is refused, after
    // the batch has locked its queues' rows.
    let queues: Vec<String> = (0..10).map(|i| format!("q{i}")).collect();
    let n = queues.len();
    sqlx::query(
        "SELECT * FROM queuetopia_finish_batch('s', 'n', NULL, $1, $2, $3, $4, $5, $6, $7,
             $8, $9, 0, 0, 0, NULL, false)",
    )
    .bind(&queues)
    .bind(vec![0_i64; n])
    .bind(vec![0_i64; n])
    .bind(vec![1_i32; n])
    .bind(vec![true; n])
    .bind(vec![None::<String>; n])
    .bind(vec![None::<i64>; n])
    .bind(vec![false; n])
    .bind(vec![false; n])
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    read_at_most(&mut tx, 100, "a batch of 10 results").await;
    tx.rollback().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_and_the_claims_after_it_read_a_few_rows() {
    let (_t, mut conn) = ready_queues_on_empty_statistics().await;
    let mut tx = conn.begin().await.unwrap();
    let claimed = sqlx::query(
        "SELECT id, queue, attempts FROM queuetopia_claim('s', NULL, 1, 'n', 1000, 1, NULL)
         WHERE role = 'claimed'",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    // Its success, then claims of up to ten next queues (its own is empty).
    let rows = sqlx::query(
        "SELECT role FROM queuetopia_finish('s', $1, 'n', $2, 1, $3, NULL, true, NULL, NULL,
             false, false, 10, 1000, 2, NULL, true)",
    )
    .bind(claimed.get::<String, _>("queue"))
    .bind(claimed.get::<i64, _>("id"))
    .bind(claimed.get::<i32, _>("attempts"))
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    let roles: Vec<String> = rows.iter().map(|r| r.get("role")).collect();
    assert_eq!(
        roles.iter().filter(|r| *r == "finished").count(),
        1,
        "{roles:?}"
    );
    assert_eq!(
        roles.iter().filter(|r| *r == "claimed").count(),
        10,
        "{roles:?}"
    );
    read_at_most(&mut tx, 200, "a result and a claim of 10 queues").await;
    tx.rollback().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creations_read_the_queues_they_go_to() {
    let (t, mut conn) = ready_queues_on_empty_statistics().await;
    let q = Queuetopia::producer(t.db.clone())
        .scope("s")
        .build()
        .await
        .unwrap();
    let mut tx = conn.begin().await.unwrap();
    let batch = (0..10)
        .map(|i| NewJob::new(format!("q{i}"), "a", json!({}), JobOptions::default()).unwrap());
    q.create_jobs_in(&mut *tx, batch.collect()).await.unwrap();
    read_at_most(&mut tx, 100, "a batch of 10 creations").await;
    q.create_job_in(&mut *tx, "q10", "a", json!({}), JobOptions::default())
        .await
        .unwrap();
    read_at_most(&mut tx, 110, "a batch of 10 creations and one more").await;
    tx.rollback().await.unwrap();
}
