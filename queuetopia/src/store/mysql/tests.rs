//! Checks of MySQL's own statements against a real server.
#![allow(clippy::unwrap_used)]

use serde_json::json;
use sqlx::{AssertSqlSafe, Connection, MySqlConnection};

use super::{BEGIN_READ_COMMITTED, MySqlStore, Store};
use crate::job::{JobOptions, NewJob};
use crate::tables::Tables;

fn url() -> String {
    crate::store::test_url(crate::Backend::MySql).expect("a server backend")
}

/// A batch of 300 creations (chunks of 256, 32, 8 and 4 rows) returns
/// each job as stored, ids included: with consecutive ids (a step of
/// one), and row by row when a session's step makes gaps.
#[tokio::test]
async fn a_large_batch_returns_each_jobs_id() {
    for step in [1, 2] {
        let prefix = format!("qtu{:x}_", super::super::random_token() % 0xffff_ffff);
        let pool = sqlx::mysql::MySqlPoolOptions::new()
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    let set = format!("SET SESSION auto_increment_increment = {step}");
                    sqlx::raw_sql(AssertSqlSafe(set)).execute(conn).await?;
                    Ok(())
                })
            })
            .connect(&url())
            .await
            .unwrap();
        let store = MySqlStore::new(pool.clone(), Tables::default().prefix(&prefix));
        store.schema_migrate(crate::SCHEMA_VERSION).await.unwrap();
        let jobs: Vec<NewJob> = (0..300)
            .map(|i| {
                let queue = format!("q{}", i % 7);
                NewJob::new(queue, "x", json!({ "i": i }), JobOptions::default()).unwrap()
            })
            .collect();
        let created = store.job_insert("s", &jobs, None, false).await.unwrap();
        for (i, job) in created.jobs.iter().enumerate() {
            assert_eq!(job.params["i"], i, "step {step}");
            let (stored, _) = store.job_get("s", job.id).await.unwrap().unwrap();
            assert_eq!(stored, *job, "step {step}");
        }
        store.schema_migrate(0).await.unwrap();
        let drop = format!("DROP TABLE {prefix}migrations");
        sqlx::raw_sql(AssertSqlSafe(drop))
            .execute(&pool)
            .await
            .unwrap();
    }
}

/// Whether the open transaction on `reader` sees a change another
/// connection commits between two of its reads: READ COMMITTED does,
/// REPEATABLE READ does not.
async fn sees_a_later_commit(
    reader: &mut MySqlConnection,
    writer: &mut MySqlConnection,
    table: &str,
) -> bool {
    let read = format!("SELECT x FROM {table}");
    let before: i32 = sqlx::query_scalar(AssertSqlSafe(read.clone()))
        .fetch_one(&mut *reader)
        .await
        .unwrap();
    sqlx::raw_sql(AssertSqlSafe(format!("UPDATE {table} SET x = x + 1")))
        .execute(&mut *writer)
        .await
        .unwrap();
    let after: i32 = sqlx::query_scalar(AssertSqlSafe(read.clone()))
        .fetch_one(&mut *reader)
        .await
        .unwrap();
    after != before
}

/// Results with a claim run READ COMMITTED on a connection whose default
/// is REPEATABLE READ, set in the same round trip as the start; the
/// transaction after them runs at the session's level again.
#[tokio::test]
async fn begin_read_committed_overrides_the_sessions_level() {
    let url = url();
    let table = format!(
        "qtu{:x}_isolation",
        super::super::random_token() % 0xffff_ffff
    );
    let mut reader = MySqlConnection::connect(&url).await.unwrap();
    let mut writer = MySqlConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(format!(
        "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ; \
         CREATE TABLE {table} (x INT) ENGINE = InnoDB; INSERT INTO {table} VALUES (0)"
    )))
    .execute(&mut reader)
    .await
    .unwrap();
    let mut tx = reader.begin_with(BEGIN_READ_COMMITTED).await.unwrap();
    let read_committed = sees_a_later_commit(&mut tx, &mut writer, &table).await;
    tx.rollback().await.unwrap();
    let mut tx = reader.begin().await.unwrap();
    let repeatable = !sees_a_later_commit(&mut tx, &mut writer, &table).await;
    tx.rollback().await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(format!("DROP TABLE {table}")))
        .execute(&mut writer)
        .await
        .unwrap();
    assert!(read_committed, "BEGIN_READ_COMMITTED runs READ COMMITTED");
    assert!(
        repeatable,
        "the next transaction runs REPEATABLE READ again"
    );
}
