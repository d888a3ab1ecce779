//! Checks of MySQL's own statements against a real server.

use queuetopia::store::{BEGIN_READ_COMMITTED, JobGet, JobInsert, Store};
use queuetopia::{Db, JobOptions, NewJob};
use serde_json::json;
use sqlx::{AssertSqlSafe, Connection, MySqlConnection};

use crate::common::{Kind, TestDb, fresh};

/// A batch of 300 creations (chunks of 256, 32, 8 and 4 rows) returns
/// each job as stored, ids included: with consecutive ids (a step of
/// one), and row by row when a session's step makes gaps.
async fn a_large_batch_returns_each_jobs_id(kind: Kind) {
    let t = fresh(kind).await;
    for step in [1, 2] {
        let options = t.db.mysql_pool().unwrap().connect_options();
        let pool = sqlx::mysql::MySqlPoolOptions::new()
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    let set = format!("SET SESSION auto_increment_increment = {step}");
                    sqlx::raw_sql(AssertSqlSafe(set)).execute(conn).await?;
                    Ok(())
                })
            })
            .connect_with((*options).clone())
            .await
            .unwrap();
        let db = Db::from_mysql_pool(pool);
        let store = db.store();
        let jobs: Vec<NewJob> = (0..300)
            .map(|i| {
                let queue = format!("q{}", i % 7);
                NewJob::new(queue, "x", json!({ "i": i }), JobOptions::default()).unwrap()
            })
            .collect();
        let insert = JobInsert {
            scope: "s",
            jobs: &jobs,
            now: None,
            notify: false,
        };
        let created = store.job_insert(insert).await.unwrap();
        for (i, job) in created.jobs.iter().enumerate() {
            assert_eq!(job.params["i"], i, "step {step}");
            let get = JobGet {
                scope: "s",
                id: job.id,
            };
            let (stored, _) = store.job_get(get).await.unwrap().unwrap();
            assert_eq!(stored, *job, "step {step}");
        }
    }
}

/// Whether the open transaction on `reader` sees a change another
/// connection commits between two of its reads: READ COMMITTED does,
/// REPEATABLE READ does not.
async fn sees_a_later_commit(reader: &mut MySqlConnection, writer: &mut MySqlConnection) -> bool {
    let read = "SELECT x FROM isolation";
    let before: i32 = sqlx::query_scalar(read)
        .fetch_one(&mut *reader)
        .await
        .unwrap();
    sqlx::raw_sql("UPDATE isolation SET x = x + 1")
        .execute(&mut *writer)
        .await
        .unwrap();
    let after: i32 = sqlx::query_scalar(read)
        .fetch_one(&mut *reader)
        .await
        .unwrap();
    after != before
}

async fn connect(t: &TestDb) -> MySqlConnection {
    let options = t.db.mysql_pool().unwrap().connect_options();
    MySqlConnection::connect_with(&options).await.unwrap()
}

/// Results with a claim run READ COMMITTED on a connection whose default
/// is REPEATABLE READ, set in the same round trip as the start; the
/// transaction after them runs at the session's level again.
async fn begin_read_committed_overrides_the_sessions_level(kind: Kind) {
    let t = fresh(kind).await;
    let mut reader = connect(&t).await;
    let mut writer = connect(&t).await;
    sqlx::raw_sql(
        "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ; \
         CREATE TABLE isolation (x INT) ENGINE = InnoDB; INSERT INTO isolation VALUES (0)",
    )
    .execute(&mut reader)
    .await
    .unwrap();
    let mut tx = reader.begin_with(BEGIN_READ_COMMITTED).await.unwrap();
    let read_committed = sees_a_later_commit(&mut tx, &mut writer).await;
    tx.rollback().await.unwrap();
    let mut tx = reader.begin().await.unwrap();
    let repeatable = !sees_a_later_commit(&mut tx, &mut writer).await;
    tx.rollback().await.unwrap();
    assert!(read_committed, "BEGIN_READ_COMMITTED runs READ COMMITTED");
    assert!(
        repeatable,
        "the next transaction runs REPEATABLE READ again"
    );
}

/// Instantiates cases of MySQL's own statements, on MySQL only; counted
/// apart by `scripts/test`.
macro_rules! mysql_only_tests {
    ($($name:ident),* $(,)?) => {
        mod mysql_only {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Kind::MySql).await
                }
            )*
        }
    };
}

mysql_only_tests!(
    a_large_batch_returns_each_jobs_id,
    begin_read_committed_overrides_the_sessions_level,
);
