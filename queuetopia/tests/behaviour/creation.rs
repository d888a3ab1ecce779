//! Creating jobs: validation, what is stored, batches, the caller's transaction.

#[allow(clippy::wildcard_imports)]
use crate::prelude::*;

async fn validation_errors_name_the_field_and_write_nothing(kind: Kind) {
    let t = fresh(kind).await;
    let q = producer(&t.db, "s").await;
    let long = "x".repeat(256);
    let cases: Vec<(&str, queuetopia::Result<queuetopia::Job>)> = vec![
        ("queue", q.create_job("", "a", json!({}), opts()).await),
        (
            "queue",
            q.create_job(long.as_str(), "a", json!({}), opts()).await,
        ),
        ("queue", q.create_job("a\0b", "a", json!({}), opts()).await),
        ("action", q.create_job("q", "", json!({}), opts()).await),
        (
            "action",
            q.create_job("q", long.as_str(), json!({}), opts()).await,
        ),
        (
            "params",
            q.create_job("q", "a", json!([1, 2]), opts()).await,
        ),
        (
            "params",
            q.create_job("q", "a", json!("text"), opts()).await,
        ),
        (
            "params",
            q.create_job("q", "a", json!({"k": "\0"}), opts()).await,
        ),
        (
            "max_attempts",
            q.create_job("q", "a", json!({}), opts().max_attempts(0))
                .await,
        ),
        (
            "timeout",
            q.create_job("q", "a", json!({}), opts().timeout(Duration::ZERO))
                .await,
        ),
        (
            "max_backoff",
            q.create_job("q", "a", json!({}), opts().max_backoff(Duration::MAX))
                .await,
        ),
    ];
    for (field, result) in cases {
        match result {
            Err(Error::Validation { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected a validation error on {field}, got {other:?}"),
        }
    }
    let bad_scope = Queuetopia::producer(t.db.clone()).scope("").build().await;
    assert!(matches!(
        bad_scope,
        Err(Error::Validation { field: "scope", .. })
    ));
    assert!(
        q.list_jobs(&JobFilter::default())
            .await
            .unwrap()
            .jobs
            .is_empty()
    );
    assert!(q.list_queues().await.unwrap().is_empty());
}

async fn jobs_round_trip_every_field(kind: Kind) {
    let t = fresh(kind).await;
    let q = producer(&t.db, "s").await;
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Mail {
        to: String,
        tags: Vec<String>,
    }
    let mail = Mail {
        to: "a@b.c".into(),
        tags: vec!["é".into(), "'; DROP TABLE x; --".into()],
    };
    let at: DateTime<Utc> = "2031-05-06T07:08:09.123456Z".parse().unwrap();
    let job = q
        .create_job(
            "account:42",
            "send_welcome",
            &mail,
            opts()
                .scheduled_at(at)
                .timeout(Duration::from_secs(5))
                .max_backoff(Duration::from_secs(77))
                .max_attempts(3)
                .on_exhausted(ExhaustionPolicy::Hold),
        )
        .await
        .unwrap();
    assert_eq!(job.scope, "s");
    assert_eq!(job.queue, "account:42");
    assert_eq!(job.action, "send_welcome");
    assert_eq!(job.params_as::<Mail>().unwrap(), mail);
    assert_eq!(job.scheduled_at, at);
    assert_eq!(job.timeout, Duration::from_secs(5));
    assert_eq!(job.max_backoff, Duration::from_secs(77));
    assert_eq!(job.max_attempts, 3);
    assert_eq!(job.on_exhausted, Some(ExhaustionPolicy::Hold));
    assert_eq!(job.attempts, 0);
    assert!(job.done_at.is_none() && job.error.is_none() && job.attempted_at.is_none());
    let read = q.get_job(job.id).await.unwrap();
    assert_eq!(read.job, job);
    assert_eq!(read.state, JobState::Pending);
    let defaults = q.create_job("q", "a", json!({}), opts()).await.unwrap();
    assert_eq!(defaults.timeout, Duration::from_secs(60));
    assert_eq!(defaults.max_backoff, Duration::from_secs(86_400));
    assert_eq!(defaults.max_attempts, 20);
    assert_eq!(defaults.on_exhausted, None);
    assert!(matches!(
        q.get_job(defaults.id + 1000).await,
        Err(Error::JobNotFound(_))
    ));
}

/// A batch returns each job as stored, in the order asked for, whatever the
/// mix: queues interleaved (one of them already used), times finer than the
/// store keeps, durations with parts of a millisecond, every option; and
/// more jobs than one statement writes on SQLite and MySQL (300: chunks of
/// 256, 32, 8 and 4 rows).
async fn a_created_batch_is_returned_as_stored(kind: Kind) {
    let t = fresh(kind).await;
    let q = producer(&t.db, "s").await;
    q.create_job("q1", "a", json!({}), opts()).await.unwrap();
    let at = DateTime::from_timestamp(1_999_999_999, 123_456_789).expect("valid");
    let jobs: Vec<NewJob> = (0..300)
        .map(|i| {
            let options = match i % 4 {
                0 => opts(),
                1 => opts().scheduled_at(at).max_attempts(2),
                2 => opts()
                    .delay(Duration::from_micros(1_500_700))
                    .timeout(Duration::from_micros(1_234_567))
                    .on_exhausted(ExhaustionPolicy::Hold),
                _ => opts()
                    .max_backoff(Duration::from_nanos(999_999))
                    .on_exhausted(ExhaustionPolicy::Skip),
            };
            let params = json!({"i": i, "nested": {"é": [1.5, null, true, "x"]}});
            NewJob::new(format!("q{}", i % 7), format!("a{i}"), params, options).unwrap()
        })
        .collect();
    let created = q.create_jobs(jobs).await.unwrap();
    assert_eq!(created.len(), 300);
    for (i, job) in created.iter().enumerate() {
        assert_eq!(job.params["i"], i, "{job:?}");
        assert_eq!(job.action, format!("a{i}"));
        assert_eq!(q.get_job(job.id).await.unwrap().job, *job);
    }
    let in_q1: Vec<i64> = created
        .iter()
        .filter(|j| j.queue == "q1")
        .map(|j| j.sequence)
        .collect();
    assert_eq!(in_q1, (2..=44).collect::<Vec<i64>>());
}

async fn rolled_back_creations_leave_no_trace(kind: Kind) {
    let t = fresh(kind).await;
    let q = producer(&t.db, "s").await;
    in_tx!(t, tx => {
        q.create_job_in(&mut *tx, "fresh-queue", "a", json!({}), opts())
            .await
            .unwrap();
        tx.rollback().await.unwrap();
    });
    assert!(
        q.list_jobs(&JobFilter::default())
            .await
            .unwrap()
            .jobs
            .is_empty()
    );
    assert!(q.list_queues().await.unwrap().is_empty());
}

async fn transactional_creations_run_in_commit_order(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    // The first transaction begins first (on PostgreSQL its now() is the
    // earlier one) but commits last: its job queues behind the other's.
    let (early, late) = in_tx!(t, first, second => {
        if t.kind != Kind::Sqlite {
            // Start the first transaction for real (not on SQLite, where a
            // reader that saw an older snapshot could not write after the
            // second commits).
            sqlx::query("SELECT 1").execute(&mut *first).await.unwrap();
        }
        let a = q
            .create_job_in(&mut *second, "q", "a", json!({"tx": 2}), opts())
            .await
            .unwrap();
        second.commit().await.unwrap();
        let b = q
            .create_job_in(&mut *first, "q", "a", json!({"tx": 1}), opts())
            .await
            .unwrap();
        first.commit().await.unwrap();
        (a, b)
    });
    q.wake();
    wait_successes(&mut rx, 2).await;
    assert_eq!(script.order("q"), vec![early.id, late.id]);
    assert!(early.sequence < late.sequence);
    assert!(early.scheduled_at <= late.scheduled_at);
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn a_connection_of_another_backend_is_refused(kind: Kind) {
    let t = fresh(kind).await;
    let q = producer(&t.db, "s").await;
    let refused = {
        use sqlx::Connection;
        match kind {
            Kind::Postgres | Kind::MySql => {
                let mut other = sqlx::SqliteConnection::connect("sqlite::memory:")
                    .await
                    .unwrap();
                q.create_job_in(&mut other, "q", "a", json!({}), opts())
                    .await
            }
            Kind::Sqlite => {
                let mut other = sqlx::PgConnection::connect(&common::postgres_url())
                    .await
                    .unwrap();
                q.create_job_in(&mut other, "q", "a", json!({}), opts())
                    .await
            }
        }
    };
    assert!(
        matches!(refused, Err(Error::WrongBackend { .. })),
        "{refused:?}"
    );
    assert!(
        q.list_jobs(&JobFilter::default())
            .await
            .unwrap()
            .jobs
            .is_empty()
    );
}

/// Rows written behind the library's back are held to the rules of its own
/// creations: the database refuses a job row with an empty name, a timeout
/// or attempts not positive, a negative backoff or an unknown policy, when
/// it is inserted and when an update sets it, and keeps nothing of it.
async fn the_database_refuses_invalid_job_rows(kind: Kind) {
    let t = fresh(kind).await;
    let q = producer(&t.db, "s").await;
    let job = q.create_job("q", "a", json!({}), opts()).await.unwrap();
    // Copies of the job's row, each with one column's value replaced.
    let copy = |column: &str, value: &str| {
        let columns = "scope, queue, action, params, sequence, scheduled_at, timeout_ms, \
                       max_backoff_ms, max_attempts, on_exhausted, inserted_at, updated_at";
        let values = columns
            .replace("sequence", "sequence + 1")
            .replacen(column, value, 1);
        format!("INSERT INTO queuetopia_jobs ({columns}) SELECT {values} FROM queuetopia_jobs")
    };
    // Each with one rule broken.
    let inserts = [
        copy("queue", "''"),
        copy("action", "''"),
        copy("timeout_ms", "0"),
        copy("max_backoff_ms", "-1"),
        copy("max_attempts", "0"),
        copy("on_exhausted", "'later'"),
    ];
    let updates = [
        "UPDATE queuetopia_jobs SET scope = ''",
        "UPDATE queuetopia_jobs SET action = ''",
        "UPDATE queuetopia_jobs SET max_attempts = 0",
        "UPDATE queuetopia_jobs SET on_exhausted = 'later'",
    ]
    .map(str::to_owned);
    for sql in inserts.into_iter().chain(updates) {
        let refused = t.try_execute(&sql).await.unwrap_err();
        let kind = refused.as_database_error().map(|e| e.kind());
        assert!(
            matches!(kind, Some(sqlx::error::ErrorKind::CheckViolation)),
            "{sql}: {refused}"
        );
    }
    // The same copy, kept to the rules, is taken.
    let fine = copy("on_exhausted", "'hold'");
    assert_eq!(t.try_execute(&fine).await.unwrap(), 1);
    let listed = q.list_jobs(&JobFilter::default()).await.unwrap().jobs;
    assert_eq!(listed.len(), 2, "only the job kept to the rules was added");
    assert_eq!(
        q.get_job(job.id).await.unwrap().job,
        job,
        "the job is unchanged"
    );
}

async fn a_callers_open_transaction_holds_up_only_its_queue(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    let first = q
        .create_job("a", "x", json!({"gate": "first"}), opts())
        .await
        .unwrap();
    wait_event(
        &mut rx,
        "the first job's start",
        |e| matches!(e, Event::Started { job } if job.id == first.id),
    )
    .await;
    let row_locks = t.db.capabilities().row_locks;
    let (second, others) = in_tx!(t, tx => {
        // The caller's transaction holds queue "a" until it commits.
        let second = q
            .create_job_in(&mut *tx, "a", "x", json!({}), opts())
            .await
            .unwrap();
        let mut others = Vec::new();
        if row_locks {
            // "a"'s running job ends: its result waits for the caller, but
            // the other queues' jobs run and their results are written.
            script.open("first");
            for queue in ["b", "c"] {
                others.push(q.create_job(queue, "x", json!({}), opts()).await.unwrap());
            }
            let done = wait_successes(&mut rx, 2).await;
            assert!(done.iter().all(|j| j.queue != "a"), "{done:?}");
            assert_eq!(q.get_job(first.id).await.unwrap().state, JobState::Running);
        }
        tx.commit().await.unwrap();
        (second, others)
    });
    if !row_locks {
        // One writer at a time: the rest could only go on after the commit.
        script.open("first");
    }
    let done = wait_successes(&mut rx, 2).await;
    assert_eq!(
        done.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![first.id, second.id]
    );
    assert_eq!(script.order("a"), vec![first.id, second.id]);
    assert_eq!(others.len(), if row_locks { 2 } else { 0 });
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn test_helpers_find_created_jobs(kind: Kind) {
    let t = fresh(kind).await;
    let q = producer(&t.db, "s").await;
    q.create_job(
        "account:42",
        "send_welcome",
        json!({"to": "a@b.c", "lang": "fr"}),
        opts(),
    )
    .await
    .unwrap();
    let found = assert_job_created(
        &q,
        &JobMatch::queue("account:42")
            .action("send_welcome")
            .params(json!({"to": "a@b.c"})),
    )
    .await;
    assert_eq!(found.params["lang"], "fr");
    refute_job_created(&q, &JobMatch::queue("account:42").action("send_bill")).await;
    refute_job_created(
        &q,
        &JobMatch::queue("account:42").params(json!({"to": "x"})),
    )
    .await;
    refute_job_created(&q, &JobMatch::queue("account:43")).await;
    let other_scope = producer(&t.db, "other").await;
    refute_job_created(&other_scope, &JobMatch::queue("account:42")).await;
}

behaviour_tests!(
    validation_errors_name_the_field_and_write_nothing,
    jobs_round_trip_every_field,
    a_created_batch_is_returned_as_stored,
    rolled_back_creations_leave_no_trace,
    transactional_creations_run_in_commit_order,
    a_connection_of_another_backend_is_refused,
    the_database_refuses_invalid_job_rows,
    a_callers_open_transaction_holds_up_only_its_queue,
    test_helpers_find_created_jobs,
);
