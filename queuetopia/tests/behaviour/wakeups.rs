//! Wake-ups: new jobs run at once, on this node and others; the scheduler's settings and traces.

#[allow(clippy::wildcard_imports)]
use crate::prelude::*;

async fn a_new_job_runs_at_once_not_at_the_next_poll(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    // An hour between polls: only wake-ups can make these run.
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    for i in 0..10 {
        q.create_job("q", "a", json!({"i": i}), opts())
            .await
            .unwrap();
        wait_successes(&mut rx, 1).await;
    }
    // Jobs queued behind each other run one after the other by themselves.
    let jobs: Vec<NewJob> = (0..10)
        .map(|i| NewJob::new("q", "a", json!({"i": i}), opts()).unwrap())
        .collect();
    q.create_jobs(jobs).await.unwrap();
    wait_successes(&mut rx, 10).await;
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn a_burst_of_creations_into_a_busy_queue_makes_few_claims(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    let head = q
        .create_job("busy", "a", json!({"gate": "head"}), opts())
        .await
        .unwrap();
    wait_event(&mut rx, "the head's start", |e| {
        matches!(e, Event::Started { .. })
    })
    .await;
    let before = q.stats().claims;
    for i in 0..300 {
        q.create_job("busy", "a", json!({"i": i}), opts())
            .await
            .unwrap();
    }
    // The queue is busy: its head's end, not each creation, wakes the scheduler.
    assert!(q.stats().claims - before <= 2, "{:?}", q.stats());
    script.open("head");
    let done = wait_successes(&mut rx, 301).await;
    assert_eq!(done[0].id, head.id);
    // One claim per job (finishing wakes the next), not one per creation.
    assert!(q.stats().claims - before <= 2 * 301 + 5, "{:?}", q.stats());
    assert_eq!(q.stats().attempts, 301);
    // One queue, one attempt at a time: every result has a commit of its own.
    let stats = q.stats();
    assert_eq!((stats.results, stats.result_commits), (301, 301));
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn a_job_created_on_another_node_starts_at_once(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("b");
    // Node B polls once an hour: only a notification can wake it.
    let b = node(&t.reconnect().await, "s", &script).await;
    let mut rx = b.subscribe();
    let a = producer(&t.db, "s").await;
    let direct = a.create_job("q1", "x", json!({}), opts()).await.unwrap();
    let in_tx = in_tx!(t, tx => {
        let job = a.create_job_in(&mut *tx, "q2", "x", json!({}), opts()).await.unwrap();
        tx.commit().await.unwrap();
        job
    });
    if !t.db.capabilities().notifications {
        // Without notifications, other nodes find work at their next poll.
        b.wake();
    }
    let done = wait_successes(&mut rx, 2).await;
    let mut ids: Vec<i64> = done.iter().map(|j| j.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, vec![direct.id, in_tx.id]);
    // A burst into a busy queue notifies once at most: no claim storm.
    let before = b.stats().claims;
    let head = a
        .create_job("q3", "x", json!({"gate": "g"}), opts())
        .await
        .unwrap();
    if !t.db.capabilities().notifications {
        b.wake();
    }
    wait_event(
        &mut rx,
        "the head's start",
        |e| matches!(e, Event::Started { job } if job.id == head.id),
    )
    .await;
    for i in 0..100 {
        a.create_job("q3", "x", json!({"i": i}), opts())
            .await
            .unwrap();
    }
    script.open("g");
    wait_successes(&mut rx, 101).await;
    let claims = b.stats().claims - before;
    assert!(claims <= 101 + 20, "{claims} claims for 101 jobs");
    b.shutdown(Duration::from_secs(5)).await.unwrap();
}

/// Counts the notifications of the test's default placement (PostgreSQL):
/// creations notify when a queue becomes claimable, once per transaction,
/// and never from an instance that takes no part in wake-ups.
async fn creations_notify_only_when_a_queue_becomes_claimable(kind: Kind) {
    let t = fresh(kind).await;
    assert!(t.db.capabilities().notifications);
    let pool = t.db.pg_pool().unwrap();
    let channel: String = sqlx::query_scalar("SELECT current_schema() || '.queuetopia_wake'")
        .fetch_one(pool)
        .await
        .unwrap();
    let mut listener = sqlx::postgres::PgListener::connect_with(pool)
        .await
        .unwrap();
    listener.listen(&channel).await.unwrap();
    let a = producer(&t.db, "s").await;
    let quiet = Queuetopia::producer(t.db.clone())
        .scope("s")
        .notifications(false)
        .build()
        .await
        .unwrap();
    // Counts what arrived, up to a marker notification sent last: the
    // server delivers notifications in commit order.
    let mut count = async || {
        sqlx::query("SELECT pg_notify($1, 'marker')")
            .bind(&channel)
            .execute(pool)
            .await
            .unwrap();
        let mut n = 0;
        loop {
            let note = tokio::time::timeout(common::DEADLINE, listener.recv())
                .await
                .expect("the marker")
                .unwrap();
            if note.payload() == "marker" {
                return n;
            }
            assert_eq!(note.payload(), "s");
            n += 1;
        }
    };
    // The first job makes the queue claimable; the next ones find it so.
    for i in 0..10 {
        a.create_job("q", "x", json!({"i": i}), opts())
            .await
            .unwrap();
    }
    assert_eq!(count().await, 1);
    // A batch over three new queues: one transaction, one notification.
    let batch: Vec<NewJob> = (0..3)
        .map(|k| NewJob::new(format!("b{k}"), "x", json!({}), opts()).unwrap())
        .collect();
    a.create_jobs(batch).await.unwrap();
    assert_eq!(count().await, 1);
    // A job scheduled later makes nothing claimable now.
    a.create_job(
        "later",
        "x",
        json!({}),
        opts().delay(Duration::from_secs(3600)),
    )
    .await
    .unwrap();
    assert_eq!(count().await, 0);
    // An instance out of wake-ups never notifies.
    quiet
        .create_job("quiet", "x", json!({}), opts())
        .await
        .unwrap();
    assert_eq!(count().await, 0);
}

async fn a_producer_cannot_start_and_a_bad_setting_is_refused(kind: Kind) {
    let t = fresh(kind).await;
    let started = Queuetopia::producer(t.db.clone()).scope("s").start().await;
    assert!(matches!(
        started,
        Err(Error::Validation {
            field: "performer",
            ..
        })
    ));
    let zero = Queuetopia::builder(t.db.clone(), Script::new("n"))
        .max_concurrent_jobs(0)
        .start()
        .await;
    assert!(matches!(
        zero,
        Err(Error::Validation {
            field: "max_concurrent_jobs",
            ..
        })
    ));
    let poll = Queuetopia::builder(t.db.clone(), Script::new("n"))
        .poll_interval(Duration::ZERO)
        .start()
        .await;
    assert!(matches!(
        poll,
        Err(Error::Validation {
            field: "poll_interval",
            ..
        })
    ));
}

async fn tracing_names_each_step_with_its_fields(kind: Kind) {
    let t = fresh(kind).await;
    // Traces are captured for the whole process: a scope of its own picks ours.
    let scope = format!("traced-{}", common::unique());
    let script = Script::new("a");
    let a = Queuetopia::builder(t.db.clone(), script.clone())
        .scope(&scope)
        .node("a")
        .poll_interval(Duration::from_secs(3600))
        .lease_margin(Duration::from_secs(5))
        .start()
        .await
        .unwrap();
    let mut events = a.subscribe();
    let ok = a.create_job("ok", "x", json!({}), opts()).await.unwrap();
    let flaky = a
        .create_job("flaky", "x", json!({"fail_times": 1}), opts())
        .await
        .unwrap();
    let slow = a
        .create_job(
            "slow",
            "x",
            json!({"gate": "never"}),
            opts().timeout(Duration::from_millis(100)).max_attempts(1),
        )
        .await
        .unwrap();
    wait_each(
        &mut events,
        "a success, a retried success and a timeout",
        &[
            &|e| matches!(e, Event::Succeeded { job } if job.id == ok.id),
            &|e| matches!(e, Event::Succeeded { job } if job.id == flaky.id),
            &|e| matches!(e, Event::Failed { job, timeout: true, .. } if job.id == slow.id),
        ],
    )
    .await;
    // A crash: node a's attempt never ends; node b, whose clock is two hours
    // ahead, finds the lease lapsed and takes the lock over.
    let crashed = a
        .create_job(
            "crash",
            "x",
            json!({"gate": "never"}),
            opts().timeout(Duration::from_secs(3600)),
        )
        .await
        .unwrap();
    wait_event(
        &mut events,
        "the start on node a",
        |e| matches!(e, Event::Started { job } if job.id == crashed.id),
    )
    .await;
    let b = Queuetopia::builder(t.db.clone(), script.sibling("b"))
        .scope(&scope)
        .node("b")
        .poll_interval(Duration::from_secs(3600))
        .clock(Clock::manual(Utc::now() + chrono::Duration::hours(2)))
        .start()
        .await
        .unwrap();
    let mut b_events = b.subscribe();
    b.wake();
    wait_event(
        &mut b_events,
        "the takeover on node b",
        |e| matches!(e, Event::Failed { job, .. } if job.id == crashed.id),
    )
    .await;
    b.shutdown(Duration::from_secs(5)).await.unwrap();
    a.shutdown(Duration::from_millis(10)).await.unwrap();

    let traces = common::traces::of_scope(&scope);
    assert!(
        !traces.is_empty(),
        "nothing was traced: another subscriber was installed before the test's"
    );
    let find = |message: &str, job: i64, attempt: u32| {
        let job = job.to_string();
        let attempt = attempt.to_string();
        traces
            .iter()
            .find(|t| {
                t.message == message
                    && t.field("job_id") == Some(job.as_str())
                    && t.field("attempt") == Some(attempt.as_str())
            })
            .unwrap_or_else(|| {
                panic!("no {message:?} for job {job} attempt {attempt}: {traces:#?}")
            })
            .clone()
    };
    for (message, job, attempt) in [
        ("claimed", ok.id, 1),
        ("perform", ok.id, 1),
        ("job succeeded", ok.id, 1),
        ("claimed", flaky.id, 1),
        ("job failed", flaky.id, 1),
        ("job succeeded", flaky.id, 2),
        ("attempt timed out and was cancelled", slow.id, 1),
        ("job failed", slow.id, 1),
        (
            "lock taken over: the last attempt ended without a result",
            crashed.id,
            1,
        ),
    ] {
        let trace = find(message, job, attempt);
        assert_eq!(trace.field("span"), Some("attempt"), "{trace:?}");
        let queue = [
            (ok.id, "ok"),
            (flaky.id, "flaky"),
            (slow.id, "slow"),
            (crashed.id, "crash"),
        ]
        .into_iter()
        .find(|(id, _)| *id == job)
        .map(|(_, queue)| queue);
        assert_eq!(trace.field("queue"), queue, "{trace:?}");
    }
    let failed = find("job failed", flaky.id, 1);
    assert_eq!(failed.level, tracing::Level::WARN);
    assert_eq!(failed.field("error"), Some("failure 1"));
    assert_eq!(
        find("job failed", slow.id, 1).field("timeout"),
        Some("true")
    );
    assert_eq!(
        find(
            "lock taken over: the last attempt ended without a result",
            crashed.id,
            1
        )
        .field("previous_node"),
        Some("a")
    );
}

/// A claim that finds a ready queue's row held by another transaction (as
/// the cleaner's or a creation's may be; here the test's) skips it; the
/// queue still runs once its row is free, without another wake-up.
async fn a_queue_skipped_while_its_row_was_held_runs_without_a_new_wake(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    // Created through another handle: nothing wakes this node's scheduler
    // (but PostgreSQL's notification, which may run it at once: fine).
    let other = producer(&t.db, "s").await;
    let job = other.create_job("a", "x", json!({}), opts()).await.unwrap();
    let before = q.stats().claims;
    in_tx!(t, tx => {
        // A write that changes nothing holds the row (SQLite: its write lock).
        sqlx::query(
            "UPDATE queuetopia_queues SET next_sequence = next_sequence \
             WHERE scope = 's' AND queue = 'a'",
        )
        .execute(&mut *tx)
        .await
        .unwrap();
        q.wake();
        // A claim made while the row is held (SQLite's waits for the lock
        // instead, and runs once it is free).
        if kind != Kind::Sqlite {
            eventually("a claim while the row is held", || async {
                q.stats().claims > before
            })
            .await;
        }
        tx.rollback().await.unwrap();
    });
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!(done[0].id, job.id);
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

behaviour_tests!(
    a_queue_skipped_while_its_row_was_held_runs_without_a_new_wake,
    a_new_job_runs_at_once_not_at_the_next_poll,
    a_burst_of_creations_into_a_busy_queue_makes_few_claims,
    a_job_created_on_another_node_starts_at_once,
    a_producer_cannot_start_and_a_bad_setting_is_refused,
    tracing_names_each_step_with_its_fields,
);

postgres_only_tests!(creations_notify_only_when_a_queue_becomes_claimable,);
