#![allow(clippy::unwrap_used)]
//! The behaviour suite: every case runs on every backend (see
//! `behaviour_tests!` at the bottom).

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{Kind, Script, eventually, fresh, wait_each, wait_event, wait_successes};
use queuetopia::testing::{JobMatch, assert_job_created, refute_job_created};
use queuetopia::{
    Clock, Error, Event, ExhaustionPolicy, JobFilter, JobOptions, JobState, NewJob, Queuetopia,
    Verdict,
};
use serde_json::json;

fn opts() -> JobOptions {
    JobOptions::default()
}

/// A manual clock starting at the real now, rounded to the millisecond.
fn manual_clock() -> Clock {
    let now = Utc::now();
    let now = DateTime::from_timestamp_millis(now.timestamp_millis()).expect("valid");
    Clock::manual(now)
}

fn succeeded(e: &Event) -> bool {
    matches!(e, Event::Succeeded { .. })
}

fn failed_with(e: &Event, verdict: Verdict) -> bool {
    matches!(e, Event::Failed { verdict: v, .. } if *v == verdict)
}

/// A scheduler that only moves when woken (a poll interval of an hour).
async fn node(db: &queuetopia::Db, scope: &str, script: &Script) -> Queuetopia {
    Queuetopia::builder(db.clone(), script.clone())
        .scope(scope)
        .node(script.node.clone())
        .poll_interval(Duration::from_secs(3600))
        .start()
        .await
        .expect("start")
}

async fn producer(db: &queuetopia::Db, scope: &str) -> Queuetopia {
    Queuetopia::producer(db.clone())
        .scope(scope)
        .build()
        .await
        .expect("build")
}

/// Waits until a job that was created after `change` ran, which proves that
/// the scheduler made a claim after `change`.
async fn probe(q: &Queuetopia, rx: &mut tokio::sync::broadcast::Receiver<Event>) {
    let probe = q
        .create_job("probe", "probe", json!({}), opts())
        .await
        .expect("probe");
    wait_event(
        rx,
        "the probe job",
        |e| matches!(e, Event::Succeeded { job } if job.id == probe.id),
    )
    .await;
}

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

async fn jobs_run_in_order_of_creation(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(
            q.create_job("q", "a", json!({"i": i}), opts())
                .await
                .unwrap()
                .id,
        );
    }
    wait_successes(&mut rx, 20).await;
    assert_eq!(script.order("q"), ids);
    let sequences: Vec<i64> = {
        let page = q
            .list_jobs(&JobFilter::default().queue("q").oldest_first())
            .await
            .unwrap();
        page.jobs.iter().map(|e| e.job.sequence).collect()
    };
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn batch_creation_keeps_order_per_queue(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    let jobs: Vec<NewJob> = (0..30)
        .map(|i| NewJob::new(format!("q{}", i % 3), "a", json!({"i": i}), opts()).unwrap())
        .collect();
    let created = q.create_jobs(jobs).await.unwrap();
    assert_eq!(created.len(), 30);
    for (i, job) in created.iter().enumerate() {
        assert_eq!(job.params["i"], i);
        assert_eq!(job.queue, format!("q{}", i % 3));
    }
    wait_successes(&mut rx, 30).await;
    for k in 0..3 {
        let queue = format!("q{k}");
        let expected: Vec<i64> = created
            .iter()
            .filter(|j| j.queue == queue)
            .map(|j| j.id)
            .collect();
        assert_eq!(script.order(&queue), expected);
    }
    assert_eq!(script.overlaps.load(std::sync::atomic::Ordering::SeqCst), 0);
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn a_slow_queue_does_not_delay_the_others(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    let slow = q
        .create_job("slow", "a", json!({"gate": "slow"}), opts())
        .await
        .unwrap();
    let behind_slow = q.create_job("slow", "a", json!({}), opts()).await.unwrap();
    for i in 0..5 {
        q.create_job("fast", "a", json!({"i": i}), opts())
            .await
            .unwrap();
    }
    let done = wait_successes(&mut rx, 5).await;
    assert!(done.iter().all(|j| j.queue == "fast"));
    // The slow job is still running, and its queue waits behind it.
    assert_eq!(q.get_job(slow.id).await.unwrap().state, JobState::Running);
    assert_eq!(
        q.get_job(behind_slow.id).await.unwrap().state,
        JobState::Pending
    );
    script.open("slow");
    wait_successes(&mut rx, 2).await;
    assert_eq!(script.order("slow"), vec![slow.id, behind_slow.id]);
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn a_failing_job_blocks_only_its_queue_until_it_succeeds(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    let flaky = q
        .create_job("a", "x", json!({"fail_times": 2, "gate": "flaky"}), opts())
        .await
        .unwrap();
    let behind = q.create_job("a", "x", json!({}), opts()).await.unwrap();
    // While the head of "a" fails, "b" runs.
    script.open("flaky");
    let failed = wait_event(&mut rx, "the first failure", |e| {
        matches!(e, Event::Failed { .. })
    })
    .await;
    let Event::Failed {
        job,
        verdict,
        timeout,
    } = failed
    else {
        unreachable!()
    };
    assert_eq!(
        (job.id, job.attempts, verdict, timeout),
        (flaky.id, 1, Verdict::Retry, false)
    );
    assert_eq!(job.error.as_deref(), Some("failure 1"));
    assert!(job.next_attempt_at.is_some());
    let other = q.create_job("b", "x", json!({}), opts()).await.unwrap();
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!(done[0].id, other.id);
    let queues = q.list_queues().await.unwrap();
    let a = queues.iter().find(|i| i.queue == "a").expect("queue a");
    let blocked = a.blocked.as_ref().expect("a is blocked");
    assert_eq!(blocked.job_id, flaky.id);
    assert_eq!(blocked.error.as_deref(), Some("failure 1"));
    assert!(!blocked.held);
    assert_eq!(a.size, 2);
    // Retries happen by themselves (the scheduler wakes at the backoff's end).
    script.open("flaky");
    script.open("flaky");
    let done = wait_successes(&mut rx, 2).await;
    assert_eq!(done[0].id, flaky.id);
    assert_eq!(done[0].attempts, 3);
    assert_eq!(done[0].error, None);
    assert_eq!(done[1].id, behind.id);
    assert_eq!(
        script.order("a"),
        vec![flaky.id, flaky.id, flaky.id, behind.id]
    );
    assert_eq!(script.failure_hook_calls.lock().unwrap().len(), 2);
    let a = q.list_queues().await.unwrap();
    assert!(a.iter().all(|i| i.queue != "a"), "queue a is empty: {a:?}");
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn a_panicking_job_is_a_recorded_failure(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    let bad = q
        .create_job(
            "a",
            "x",
            json!({"panic": true, "hook_fails": true}),
            opts().max_attempts(2),
        )
        .await
        .unwrap();
    let Event::Failed { job, .. } =
        wait_event(&mut rx, "a failure", |e| matches!(e, Event::Failed { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(job.id, bad.id);
    assert_eq!(job.error.as_deref(), Some("panic: boom"));
    // The scheduler lives on, and the failing hook changed nothing.
    let ok = q.create_job("b", "x", json!({}), opts()).await.unwrap();
    let events = wait_each(
        &mut rx,
        "b's success and the give-up",
        &[&succeeded, &|e| failed_with(e, Verdict::GiveUp)],
    )
    .await;
    assert!(matches!(&events[0], Event::Succeeded { job } if job.id == ok.id));
    let Event::Failed { job, verdict, .. } = &events[1] else {
        unreachable!()
    };
    assert_eq!(*verdict, Verdict::GiveUp);
    assert!(job.given_up_at.is_some());
    assert_eq!(q.get_job(bad.id).await.unwrap().state, JobState::GivenUp);
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn a_timed_out_attempt_keeps_its_queue_locked_until_the_lease_ends(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = Queuetopia::builder(t.db.clone(), script.clone())
        .scope("s")
        .poll_interval(Duration::from_secs(3600))
        .lease_margin(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let mut rx = q.subscribe();
    let job = q
        .create_job(
            "a",
            "x",
            json!({"gate": "never", "backoff_ms": 1}),
            opts().timeout(Duration::from_millis(200)).max_attempts(2),
        )
        .await
        .unwrap();
    let Event::Failed {
        job: failed,
        timeout,
        ..
    } = wait_event(&mut rx, "the timeout", |e| {
        matches!(e, Event::Failed { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert!(timeout);
    assert_eq!(failed.error.as_deref(), Some("timeout"));
    let first_start = failed.attempted_at.expect("attempted");
    let queues = q.list_queues().await.unwrap();
    let lock = queues[0].lock.as_ref().expect("the queue stays locked");
    assert_eq!(lock.running_job_id, None);
    assert!(lock.until >= first_start + chrono::Duration::milliseconds(500));
    // The second attempt starts only once the lease has run out.
    let Event::Started { job: second } = wait_event(&mut rx, "the second attempt", |e| {
        matches!(e, Event::Started { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!((second.id, second.attempts), (job.id, 2));
    assert!(second.attempted_at.expect("attempted") >= lock.until);
    q.shutdown(Duration::from_secs(5)).await.unwrap();
    assert!(
        q.list_queues()
            .await
            .unwrap()
            .iter()
            .all(|i| i.lock.is_none())
    );
}

async fn exhausted_jobs_are_skipped_by_default(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    let doomed = q
        .create_job("a", "x", json!({"fail_times": 99}), opts().max_attempts(2))
        .await
        .unwrap();
    let next = q.create_job("a", "x", json!({}), opts()).await.unwrap();
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!(done[0].id, next.id);
    let gone = q.get_job(doomed.id).await.unwrap();
    assert_eq!(gone.state, JobState::GivenUp);
    assert_eq!(gone.job.attempts, 2);
    assert_eq!(gone.job.error.as_deref(), Some("failure 2"));
    // An operator retry gives a given-up job one more attempt.
    q.retry_job(doomed.id).await.unwrap();
    let Event::Failed { job, verdict, .. } = wait_event(&mut rx, "the retried failure", |e| {
        matches!(e, Event::Failed { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(
        (job.id, job.attempts, verdict),
        (doomed.id, 3, Verdict::GiveUp)
    );
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn exhausted_jobs_hold_their_queue_under_the_hold_policy(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = Queuetopia::builder(t.db.clone(), script.clone())
        .scope("s")
        .poll_interval(Duration::from_secs(3600))
        .on_exhausted(ExhaustionPolicy::Hold)
        .start()
        .await
        .unwrap();
    let mut rx = q.subscribe();
    let held = q
        .create_job("a", "x", json!({"fail_times": 2}), opts().max_attempts(2))
        .await
        .unwrap();
    let behind = q.create_job("a", "x", json!({}), opts()).await.unwrap();
    wait_event(&mut rx, "the hold", |e| {
        matches!(
            e,
            Event::Failed {
                verdict: Verdict::Hold,
                ..
            }
        )
    })
    .await;
    probe(&q, &mut rx).await;
    assert_eq!(q.get_job(held.id).await.unwrap().state, JobState::Held);
    assert_eq!(q.get_job(behind.id).await.unwrap().state, JobState::Pending);
    let info = q.list_queues().await.unwrap();
    let a = info.iter().find(|i| i.queue == "a").unwrap();
    assert!(
        a.blocked
            .as_ref()
            .is_some_and(|b| b.held && b.job_id == held.id)
    );
    // An operator retry gives it one more attempt, which succeeds.
    let retried = q.retry_job(held.id).await.unwrap();
    assert_eq!(retried.max_attempts, 3);
    let done = wait_successes(&mut rx, 2).await;
    assert_eq!(
        done.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![held.id, behind.id]
    );
    assert!(matches!(
        q.retry_job(held.id).await,
        Err(Error::JobState { .. })
    ));
    assert!(matches!(
        q.skip_job(held.id).await,
        Err(Error::JobState { .. })
    ));
    assert!(matches!(
        q.skip_job(held.id + 999).await,
        Err(Error::JobNotFound(_))
    ));
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn an_operator_skip_lets_a_held_queue_move_on(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    let held = q
        .create_job(
            "a",
            "x",
            json!({"fail_times": 9}),
            opts().max_attempts(1).on_exhausted(ExhaustionPolicy::Hold),
        )
        .await
        .unwrap();
    let behind = q.create_job("a", "x", json!({}), opts()).await.unwrap();
    wait_event(&mut rx, "the hold", |e| {
        matches!(
            e,
            Event::Failed {
                verdict: Verdict::Hold,
                ..
            }
        )
    })
    .await;
    let skipped = q.skip_job(held.id).await.unwrap();
    assert!(skipped.given_up_at.is_some());
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!(done[0].id, behind.id);
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

/// A performer can give a job up at once, whatever attempts it has left
/// and under the hold policy too, or name the delay before the next attempt
/// (capped by the job's longest backoff).
async fn a_performer_can_give_up_or_name_the_next_delay(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = Queuetopia::builder(t.db.clone(), script.clone())
        .scope("s")
        .poll_interval(Duration::from_secs(3600))
        .on_exhausted(ExhaustionPolicy::Hold)
        .clock(manual_clock())
        .start()
        .await
        .unwrap();
    let mut rx = q.subscribe();
    let gone = q
        .create_job("a", "x", json!({"fail_times": 9, "give_up": true}), opts())
        .await
        .unwrap();
    let behind = q.create_job("a", "x", json!({}), opts()).await.unwrap();
    let Event::Failed { job, verdict, .. } = wait_event(
        &mut rx,
        "the give-up",
        |e| matches!(e, Event::Failed { job, .. } if job.id == gone.id),
    )
    .await
    else {
        unreachable!()
    };
    assert_eq!(verdict, Verdict::GiveUp);
    assert_eq!((job.attempts, job.error.as_deref()), (1, Some("failure 1")));
    assert!(job.given_up_at.is_some());
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!(done[0].id, behind.id, "the queue moved on");
    assert_eq!(q.get_job(gone.id).await.unwrap().state, JobState::GivenUp);

    for (max_backoff, asked, expected) in [(3600, 90, 90), (60, 90, 60)] {
        let job = q
            .create_job(
                "b",
                "x",
                json!({"fail_times": 1, "retry_in_ms": asked * 1000}),
                opts().max_backoff(Duration::from_secs(max_backoff)),
            )
            .await
            .unwrap();
        let Event::Failed {
            job: failed,
            verdict,
            ..
        } = wait_event(
            &mut rx,
            "the retry",
            |e| matches!(e, Event::Failed { job: j, .. } if j.id == job.id),
        )
        .await
        else {
            unreachable!()
        };
        assert_eq!(verdict, Verdict::Retry);
        let attempted = failed.attempted_at.unwrap();
        assert_eq!(
            failed.next_attempt_at,
            Some(attempted + chrono::Duration::seconds(expected))
        );
        q.skip_job(job.id).await.unwrap();
    }
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn backoff_follows_the_clock(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let clock = manual_clock();
    let q = Queuetopia::builder(t.db.clone(), script.clone())
        .scope("s")
        .poll_interval(Duration::from_secs(3600))
        .clock(clock.clone())
        .start()
        .await
        .unwrap();
    let mut rx = q.subscribe();
    let job = q
        .create_job(
            "a",
            "x",
            json!({"fail_times": 2, "default_backoff": true}),
            opts(),
        )
        .await
        .unwrap();
    let Event::Failed { job: failed, .. } =
        wait_event(&mut rx, "failure 1", |e| matches!(e, Event::Failed { .. })).await
    else {
        unreachable!()
    };
    let t0 = clock.now().unwrap();
    assert_eq!(
        failed.next_attempt_at,
        Some(t0 + chrono::Duration::seconds(2))
    );
    // One second later it is not yet time.
    clock.advance(Duration::from_secs(1));
    probe(&q, &mut rx).await;
    assert_eq!(q.get_job(job.id).await.unwrap().job.attempts, 1);
    // Two seconds later it is.
    clock.advance(Duration::from_secs(1));
    q.wake();
    let Event::Failed { job: failed, .. } =
        wait_event(&mut rx, "failure 2", |e| matches!(e, Event::Failed { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(failed.attempts, 2);
    let t2 = t0 + chrono::Duration::seconds(2);
    assert_eq!(failed.attempted_at, Some(t2));
    // The second backoff is 3 s: 2^1 + 1.
    assert_eq!(
        failed.next_attempt_at,
        Some(t2 + chrono::Duration::seconds(3))
    );
    clock.advance(Duration::from_secs(2));
    probe(&q, &mut rx).await;
    assert_eq!(q.get_job(job.id).await.unwrap().job.attempts, 2);
    clock.advance(Duration::from_secs(1));
    q.wake();
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!((done[0].id, done[0].attempts), (job.id, 3));
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn scheduled_jobs_wait_for_their_time(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let clock = manual_clock();
    let q = Queuetopia::builder(t.db.clone(), script.clone())
        .scope("s")
        .poll_interval(Duration::from_secs(3600))
        .clock(clock.clone())
        .start()
        .await
        .unwrap();
    let mut rx = q.subscribe();
    let start = clock.now().unwrap();
    let later = q
        .create_job(
            "a",
            "x",
            json!({}),
            opts().scheduled_at(start + chrono::Duration::seconds(10)),
        )
        .await
        .unwrap();
    let delayed = q
        .create_job("b", "x", json!({}), opts().delay(Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(delayed.scheduled_at, start + chrono::Duration::seconds(5));
    probe(&q, &mut rx).await;
    assert_eq!(q.get_job(later.id).await.unwrap().state, JobState::Pending);
    assert_eq!(
        q.get_job(delayed.id).await.unwrap().state,
        JobState::Pending
    );
    clock.advance(Duration::from_secs(5));
    q.wake();
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!(done[0].id, delayed.id);
    assert_eq!(q.get_job(later.id).await.unwrap().state, JobState::Pending);
    clock.advance(Duration::from_secs(5));
    q.wake();
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!(done[0].id, later.id);
    q.shutdown(Duration::from_secs(5)).await.unwrap();
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

async fn two_schedulers_never_overlap_nor_reorder(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let other = script.sibling("n2");
    let a = node(&t.db, "s", &script).await;
    let b = node(&t.db, "s", &other).await;
    let mut rx_a = a.subscribe();
    let mut rx_b = b.subscribe();
    let jobs: Vec<NewJob> = (0..200)
        .map(|i| NewJob::new(format!("q{}", i % 10), "a", json!({"i": i}), opts()).unwrap())
        .collect();
    let created = a.create_jobs(jobs).await.unwrap();
    b.wake();
    eventually("every job done", || async {
        a.list_jobs(&JobFilter::default().state(JobState::Done).limit(1000))
            .await
            .unwrap()
            .jobs
            .len()
            == 200
    })
    .await;
    assert_eq!(script.overlaps.load(std::sync::atomic::Ordering::SeqCst), 0);
    for k in 0..10 {
        let queue = format!("q{k}");
        let expected: Vec<i64> = created
            .iter()
            .filter(|j| j.queue == queue)
            .map(|j| j.id)
            .collect();
        assert_eq!(script.order(&queue), expected, "order of {queue}");
    }
    let runs = script.runs();
    assert_eq!(runs.len(), 200, "each job ran once");
    assert!(runs.iter().any(|r| r.node == "n2") || runs.iter().all(|r| r.node == "n1"));
    drop((rx_a.try_recv(), rx_b.try_recv()));
    a.shutdown(Duration::from_secs(5)).await.unwrap();
    b.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn a_crashed_nodes_lease_is_taken_over(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("crashing");
    // The crashing node runs on its own runtime, which we drop without any
    // cleanup: its lock stays behind, like a SIGKILL's.
    let db = t.reconnect().await;
    let crashing = script.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let q = Queuetopia::builder(db, crashing.clone())
                .scope("s")
                .node("crashing")
                .poll_interval(Duration::from_secs(3600))
                .lease_margin(Duration::from_millis(100))
                .start()
                .await
                .unwrap();
            let mut events = q.subscribe();
            let job = q
                .create_job(
                    "a",
                    "x",
                    json!({"gate": "never"}),
                    opts().timeout(Duration::from_secs(3600)).max_attempts(3),
                )
                .await
                .unwrap();
            wait_event(&mut events, "the start", |e| {
                matches!(e, Event::Started { .. })
            })
            .await;
            tx.send(job).unwrap();
            std::mem::forget(q);
        });
        rt.shutdown_background();
    });
    let job = rx.recv().unwrap();
    thread.join().unwrap();
    // The lease runs for an hour: a clock two hours ahead sees it lapsed.
    let clock = Clock::manual(Utc::now() + chrono::Duration::hours(2));
    let survivor = script.sibling("survivor");
    let q = Queuetopia::builder(t.db.clone(), survivor)
        .scope("s")
        .node("survivor")
        .poll_interval(Duration::from_secs(3600))
        .clock(clock.clone())
        .start()
        .await
        .unwrap();
    let mut events = q.subscribe();
    q.wake();
    let Event::Failed {
        job: failed,
        verdict,
        ..
    } = wait_event(&mut events, "the abandoned attempt's failure", |e| {
        matches!(e, Event::Failed { .. })
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(verdict, Verdict::Retry);
    assert_eq!(failed.attempts, 1);
    assert!(
        failed.error.as_deref().unwrap().starts_with("abandoned"),
        "{failed:?}"
    );
    // Its next attempt runs on the survivor after the backoff.
    clock.advance(Duration::from_secs(3));
    script.open("never");
    q.wake();
    let done = wait_successes(&mut events, 1).await;
    assert_eq!((done[0].id, done[0].attempts), (job.id, 2));
    assert_eq!(done[0].attempted_by.as_deref(), Some("survivor"));
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn a_stale_nodes_result_is_refused(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("stale");
    let start = Utc::now();
    let stale_clock = Clock::manual(start);
    let stale = Queuetopia::builder(t.db.clone(), script.clone())
        .scope("s")
        .node("stale")
        .poll_interval(Duration::from_secs(3600))
        .clock(stale_clock)
        .start()
        .await
        .unwrap();
    let mut stale_events = stale.subscribe();
    let job = stale
        .create_job(
            "a",
            "x",
            json!({"gate": "stale"}),
            opts().timeout(Duration::from_secs(600)),
        )
        .await
        .unwrap();
    wait_event(&mut stale_events, "the stale start", |e| {
        matches!(e, Event::Started { .. })
    })
    .await;
    // Another node, whose clock is past the lease, takes the queue over and
    // runs the job to completion.
    let fresh_clock = Clock::manual(start + chrono::Duration::hours(1));
    let other = script.sibling("fresh");
    let fresh_node = Queuetopia::builder(t.db.clone(), other)
        .scope("s")
        .node("fresh")
        .poll_interval(Duration::from_secs(3600))
        .clock(fresh_clock.clone())
        .start()
        .await
        .unwrap();
    let mut fresh_events = fresh_node.subscribe();
    fresh_node.wake();
    wait_event(&mut fresh_events, "the takeover", |e| {
        matches!(e, Event::Failed { .. })
    })
    .await;
    fresh_clock.advance(Duration::from_secs(10));
    fresh_node.wake();
    wait_event(&mut fresh_events, "the rerun start", |e| {
        matches!(e, Event::Started { .. })
    })
    .await;
    // The stale node wakes up first (it waited first at the gate), while the
    // new owner runs: its result is refused.
    script.open("stale");
    let refused = wait_event(&mut stale_events, "the refusal", |e| {
        matches!(e, Event::ResultRefused { .. })
    })
    .await;
    assert!(matches!(refused, Event::ResultRefused { job_id, attempt: 1 } if job_id == job.id));
    script.open("stale");
    let done = wait_successes(&mut fresh_events, 1).await;
    assert_eq!(done[0].attempted_by.as_deref(), Some("fresh"));
    let stored = fresh_node.get_job(job.id).await.unwrap().job;
    assert_eq!(stored.attempts, 2);
    assert_eq!(stored.attempted_by.as_deref(), Some("fresh"));
    assert!(stored.done_at.is_some());
    stale.shutdown(Duration::from_secs(5)).await.unwrap();
    fresh_node.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn shutdown_waits_then_interrupts_and_leaves_no_lock(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    let finishing = q
        .create_job("a", "x", json!({"gate": "a"}), opts())
        .await
        .unwrap();
    let stuck = q
        .create_job("b", "x", json!({"gate": "b"}), opts())
        .await
        .unwrap();
    wait_event(&mut rx, "start 1", |e| matches!(e, Event::Started { .. })).await;
    wait_event(&mut rx, "start 2", |e| matches!(e, Event::Started { .. })).await;
    let queues = q.list_queues().await.unwrap();
    assert_eq!(queues.iter().filter(|i| i.lock.is_some()).count(), 2);
    script.open("a");
    q.shutdown(Duration::from_millis(500)).await.unwrap();
    let a = q.get_job(finishing.id).await.unwrap();
    assert_eq!(a.state, JobState::Done);
    let b = q.get_job(stuck.id).await.unwrap();
    assert_eq!(b.state, JobState::Retrying);
    assert_eq!(
        b.job.error.as_deref(),
        Some("interrupted: the node shut down")
    );
    let queues = q.list_queues().await.unwrap();
    assert!(queues.iter().all(|i| i.lock.is_none()), "{queues:?}");
    // Another node takes the interrupted job at once.
    let next = node(&t.db, "s", &script.sibling("n2")).await;
    let mut rx = next.subscribe();
    script.open("b");
    next.wake();
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!(done[0].id, stuck.id);
    next.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn scopes_never_see_each_other(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let mail = node(&t.db, "mail", &script).await;
    let bills = producer(&t.db, "bills").await;
    let mut rx = mail.subscribe();
    let theirs = bills.create_job("q", "a", json!({}), opts()).await.unwrap();
    let ours = mail.create_job("q", "a", json!({}), opts()).await.unwrap();
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!(done[0].id, ours.id);
    probe(&mail, &mut rx).await;
    assert_eq!(
        bills.get_job(theirs.id).await.unwrap().state,
        JobState::Pending
    );
    assert!(matches!(
        mail.get_job(theirs.id).await,
        Err(Error::JobNotFound(_))
    ));
    let listed = bills.list_jobs(&JobFilter::default()).await.unwrap();
    assert_eq!(listed.jobs.len(), 1);
    assert_eq!(bills.list_queues().await.unwrap().len(), 1);
    assert!(matches!(
        mail.skip_job(theirs.id).await,
        Err(Error::JobNotFound(_))
    ));
    mail.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn max_concurrent_jobs_bounds_a_node(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = Queuetopia::builder(t.db.clone(), script.clone())
        .scope("s")
        .poll_interval(Duration::from_secs(3600))
        .max_concurrent_jobs(3)
        .start()
        .await
        .unwrap();
    let mut rx = q.subscribe();
    let jobs: Vec<NewJob> = (0..8)
        .map(|i| NewJob::new(format!("q{i}"), "a", json!({"gate": "g"}), opts()).unwrap())
        .collect();
    q.create_jobs(jobs).await.unwrap();
    for _ in 0..3 {
        wait_event(&mut rx, "a start", |e| matches!(e, Event::Started { .. })).await;
    }
    for round in 0..8 {
        let running = q
            .list_jobs(&JobFilter::default().state(JobState::Running))
            .await
            .unwrap()
            .jobs
            .len();
        assert!(running <= 3, "round {round}: {running} running");
        script.open("g");
        wait_successes(&mut rx, 1).await;
    }
    assert_eq!(script.runs().len(), 8);
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn retention_deletes_only_old_done_jobs(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let clock = manual_clock();
    let q = Queuetopia::builder(t.db.clone(), script.clone())
        .scope("s")
        .poll_interval(Duration::from_secs(3600))
        .clock(clock.clone())
        .on_exhausted(ExhaustionPolicy::Skip)
        .start()
        .await
        .unwrap();
    let mut rx = q.subscribe();
    q.create_job("a", "x", json!({}), opts()).await.unwrap();
    let given_up = q
        .create_job("b", "x", json!({"fail_times": 9}), opts().max_attempts(1))
        .await
        .unwrap();
    wait_each(
        &mut rx,
        "a success and a give-up",
        &[&succeeded, &|e| failed_with(e, Verdict::GiveUp)],
    )
    .await;
    let pending = q
        .create_job(
            "c",
            "x",
            json!({}),
            opts().delay(Duration::from_secs(30 * 86_400)),
        )
        .await
        .unwrap();
    assert_eq!(
        q.delete_done_jobs(Duration::from_secs(86_400))
            .await
            .unwrap(),
        0
    );
    clock.advance(Duration::from_secs(8 * 86_400));
    let other = producer(&t.db, "other").await;
    other.create_job("a", "x", json!({}), opts()).await.unwrap();
    assert_eq!(
        q.delete_done_jobs(Duration::from_secs(7 * 86_400))
            .await
            .unwrap(),
        1
    );
    let left: Vec<i64> = q
        .list_jobs(&JobFilter::default())
        .await
        .unwrap()
        .jobs
        .iter()
        .map(|e| e.job.id)
        .collect();
    assert_eq!(left, vec![pending.id, given_up.id]);
    assert_eq!(
        other
            .list_jobs(&JobFilter::default())
            .await
            .unwrap()
            .jobs
            .len(),
        1
    );
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn empty_queues_are_pruned_and_come_back(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    q.create_job("a", "x", json!({}), opts()).await.unwrap();
    let held = q
        .create_job(
            "b",
            "x",
            json!({"fail_times": 9}),
            opts().max_attempts(1).on_exhausted(ExhaustionPolicy::Hold),
        )
        .await
        .unwrap();
    wait_each(
        &mut rx,
        "a success and a hold",
        &[&succeeded, &|e| failed_with(e, Verdict::Hold)],
    )
    .await;
    // "a" is empty and goes; "b" is held and stays.
    assert_eq!(q.prune_queues().await.unwrap(), 1);
    assert_eq!(q.prune_queues().await.unwrap(), 0);
    let queues = q.list_queues().await.unwrap();
    assert_eq!(queues.len(), 1);
    assert_eq!(queues[0].blocked.as_ref().unwrap().job_id, held.id);
    // A new job brings "a" back, in order.
    let again = q.create_job("a", "x", json!({}), opts()).await.unwrap();
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!(done[0].id, again.id);
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn the_cleaner_runs_by_itself(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = Queuetopia::builder(t.db.clone(), script.clone())
        .scope("s")
        .poll_interval(Duration::from_secs(3600))
        .retention(Duration::from_millis(1))
        .cleanup_interval(Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    let mut rx = q.subscribe();
    q.create_job("a", "x", json!({}), opts()).await.unwrap();
    wait_successes(&mut rx, 1).await;
    eventually("the done job deleted", || async {
        q.list_jobs(&JobFilter::default())
            .await
            .unwrap()
            .jobs
            .is_empty()
    })
    .await;
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn listing_filters_pages_and_searches(kind: Kind) {
    let t = fresh(kind).await;
    let q = producer(&t.db, "s").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let queue = if i % 2 == 0 { "even" } else { "odd" };
        let action = if i < 3 { "mail" } else { "bill" };
        let job = q
            .create_job(
                queue,
                action,
                json!({"n": i, "note": format!("Note_{i}%")}),
                opts(),
            )
            .await
            .unwrap();
        ids.push(job.id);
    }
    let all = q.list_jobs(&JobFilter::default()).await.unwrap();
    assert_eq!(
        all.jobs.iter().map(|e| e.job.id).collect::<Vec<_>>(),
        ids.iter().rev().copied().collect::<Vec<_>>()
    );
    assert_eq!(all.next, None);
    let page1 = q.list_jobs(&JobFilter::default().limit(3)).await.unwrap();
    assert_eq!(page1.jobs.len(), 3);
    let page2 = q
        .list_jobs(&JobFilter::default().limit(3).after(page1.next.unwrap()))
        .await
        .unwrap();
    assert_eq!(page2.jobs[0].job.id, ids[3]);
    let oldest = q
        .list_jobs(&JobFilter::default().oldest_first().limit(2))
        .await
        .unwrap();
    assert_eq!(oldest.jobs[0].job.id, ids[0]);
    let odd = q
        .list_jobs(&JobFilter::default().queue("odd"))
        .await
        .unwrap();
    assert_eq!(odd.jobs.len(), 3);
    let mail = q
        .list_jobs(&JobFilter::default().action("mail"))
        .await
        .unwrap();
    assert_eq!(mail.jobs.len(), 3);
    let one = q.list_jobs(&JobFilter::default().id(ids[4])).await.unwrap();
    assert_eq!(one.jobs.len(), 1);
    let search = q
        .list_jobs(&JobFilter::default().search("note_5%"))
        .await
        .unwrap();
    assert_eq!(search.jobs.len(), 1);
    assert_eq!(search.jobs[0].job.id, ids[5]);
    // `_` and `%` are literal in a search.
    let literal = q
        .list_jobs(&JobFilter::default().search("e_5"))
        .await
        .unwrap();
    assert_eq!(literal.jobs.len(), 1);
    let by_queue_text = q
        .list_jobs(&JobFilter::default().search("ODD"))
        .await
        .unwrap();
    assert_eq!(by_queue_text.jobs.len(), 3);
    let pending = q
        .list_jobs(&JobFilter::default().state(JobState::Pending))
        .await
        .unwrap();
    assert_eq!(pending.jobs.len(), 7);
    let done = q
        .list_jobs(&JobFilter::default().state(JobState::Done))
        .await
        .unwrap();
    assert!(done.jobs.is_empty());
    assert!(matches!(
        q.list_jobs(&JobFilter::default().limit(0)).await,
        Err(Error::Validation { field: "limit", .. })
    ));
    let queues = q.list_queues().await.unwrap();
    assert_eq!(
        queues.iter().map(|i| i.queue.as_str()).collect::<Vec<_>>(),
        vec!["even", "odd"]
    );
    assert_eq!(queues[0].size, 4);
    assert_eq!(queues[0].head.as_ref().unwrap().id, ids[0]);
    assert_eq!(queues[1].head.as_ref().unwrap().id, ids[1]);
    assert!(
        queues
            .iter()
            .all(|i| i.blocked.is_none() && i.lock.is_none())
    );
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

async fn migrations_are_versioned_idempotent_and_reversible(kind: Kind) {
    let t = common::fresh_unmigrated(kind).await;
    assert_eq!(t.db.schema_version().await.unwrap(), 0);
    let outdated = Queuetopia::producer(t.db.clone()).scope("s").build().await;
    assert!(
        matches!(
            outdated,
            Err(Error::SchemaOutdated {
                found: 0,
                expected: queuetopia::SCHEMA_VERSION
            })
        ),
        "{outdated:?}"
    );
    let message = outdated.unwrap_err().to_string();
    assert!(message.contains("migrate"), "{message}");
    t.db.migrate().await.unwrap();
    t.db.migrate().await.unwrap();
    assert_eq!(
        t.db.schema_version().await.unwrap(),
        queuetopia::SCHEMA_VERSION
    );
    let q = producer(&t.db, "s").await;
    q.create_job("q", "a", json!({}), opts()).await.unwrap();
    // Migrating again to the same version keeps the jobs.
    t.db.migrate_to(queuetopia::SCHEMA_VERSION).await.unwrap();
    t.db.migrate().await.unwrap();
    assert_eq!(
        q.list_jobs(&JobFilter::default()).await.unwrap().jobs.len(),
        1
    );
    t.db.migrate_to(0).await.unwrap();
    assert_eq!(t.db.schema_version().await.unwrap(), 0);
    assert!(q.list_jobs(&JobFilter::default()).await.is_err());
    t.db.migrate().await.unwrap();
    assert!(
        q.list_jobs(&JobFilter::default())
            .await
            .unwrap()
            .jobs
            .is_empty()
    );
    assert!(matches!(
        t.db.migrate_to(99).await,
        Err(Error::Validation { .. })
    ));
}

async fn concurrent_migrations_agree(kind: Kind) {
    let t = common::fresh_unmigrated(kind).await;
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let db = t.db.clone();
            tokio::spawn(async move { db.migrate().await })
        })
        .collect();
    for run in runs {
        run.await.unwrap().unwrap();
    }
    assert_eq!(
        t.db.schema_version().await.unwrap(),
        queuetopia::SCHEMA_VERSION
    );
}

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

async fn table_placement_keeps_instances_apart(kind: Kind) {
    let t = fresh(kind).await;
    let mut tables = queuetopia::Tables::default().prefix("app_qt_");
    if t.db.capabilities().schemas {
        let schema = t.schema.as_deref().expect("a test schema");
        tables = tables.schema(format!("{schema}_placed"));
    } else {
        let refused = t.with_tables(tables.clone().schema("elsewhere"));
        assert!(matches!(
            refused,
            Err(Error::Validation {
                field: "schema",
                ..
            })
        ));
    }
    let placed = t.reconnect_with(tables.clone()).await;
    assert!(matches!(
        Queuetopia::producer(placed.clone()).build().await,
        Err(Error::SchemaOutdated { .. })
    ));
    placed.migrate().await.unwrap();
    let script = Script::new("n1");
    let q = node(&placed, "s", &script).await;
    let mut rx = q.subscribe();
    let job = q.create_job("q", "a", json!({}), opts()).await.unwrap();
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!(done[0].id, job.id);
    // The default placement, same scope, sees nothing of it.
    let default = producer(&t.db, "s").await;
    assert!(
        default
            .list_jobs(&JobFilter::default())
            .await
            .unwrap()
            .jobs
            .is_empty()
    );
    default
        .create_job("q", "a", json!({}), opts())
        .await
        .unwrap();
    assert_eq!(
        q.list_jobs(&JobFilter::default()).await.unwrap().jobs.len(),
        1
    );
    q.shutdown(Duration::from_secs(5)).await.unwrap();
    assert_eq!(tables.jobs_table().rsplit('.').next(), Some("app_qt_jobs"));
    placed.migrate_to(0).await.unwrap();
    assert_eq!(
        default
            .list_jobs(&JobFilter::default())
            .await
            .unwrap()
            .jobs
            .len(),
        1
    );
}

async fn unsafe_table_names_are_refused(kind: Kind) {
    let t = fresh(kind).await;
    for bad in [
        "x; DROP TABLE queuetopia_jobs; --",
        "Upper",
        "a-b",
        "a.b",
        "",
    ] {
        let result = t.with_tables(queuetopia::Tables::default().prefix(bad));
        assert!(
            matches!(
                result,
                Err(Error::Validation {
                    field: "table_prefix",
                    ..
                })
            ),
            "{bad:?}"
        );
    }
    let schema = queuetopia::Tables::default().schema("public\"; DROP SCHEMA public; --");
    let result = t.with_tables(schema);
    assert!(matches!(
        result,
        Err(Error::Validation {
            field: "schema",
            ..
        })
    ));
    assert_eq!(
        t.db.schema_version().await.unwrap(),
        queuetopia::SCHEMA_VERSION
    );
}

async fn lost_connections_are_survived(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = Queuetopia::builder(t.db.clone(), script.clone())
        .scope("s")
        .poll_interval(Duration::from_millis(500))
        .lease_margin(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    // Short timeouts: a claim whose answer is lost with its connection is
    // recovered when its lease (timeout + margin) runs out.
    let options = || opts().timeout(Duration::from_millis(500));
    let mut created = Vec::new();
    for round in 0..5 {
        for k in 0..3 {
            let job = loop {
                // Creating may meet a cut connection too: the caller retries.
                match q
                    .create_job(format!("q{k}"), "a", json!({"round": round}), options())
                    .await
                {
                    Ok(job) => break job,
                    Err(e) if e.is_transient() => continue,
                    Err(e) => panic!("{e}"),
                }
            };
            created.push(job);
        }
        assert!(t.cut_connections().await > 0);
    }
    eventually("every job done after the cuts", || async {
        q.list_jobs(&JobFilter::default().state(JobState::Done))
            .await
            .is_ok_and(|page| page.jobs.len() == created.len())
    })
    .await;
    assert_eq!(script.overlaps.load(std::sync::atomic::Ordering::SeqCst), 0);
    for k in 0..3 {
        let queue = format!("q{k}");
        let expected: Vec<i64> = created
            .iter()
            .filter(|j| j.queue == queue)
            .map(|j| j.id)
            .collect();
        let mut order = script.order(&queue);
        order.dedup();
        assert_eq!(order, expected, "order of {queue}");
    }
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

async fn renewed_leases_keep_long_jobs_and_a_lost_one_cancels(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("a");
    let a = Queuetopia::builder(t.db.clone(), script.clone())
        .scope("s")
        .node("a")
        .poll_interval(Duration::from_secs(3600))
        // Long enough that a renewal delayed by a loaded machine (every
        // third of the lease, a commit each) still comes in time: at 300 ms
        // one CI run on two cores lost the lease.
        .renewed_lease(Duration::from_millis(1500))
        .start()
        .await
        .unwrap();
    let mut rx = a.subscribe();
    let job = a
        .create_job(
            "q",
            "x",
            json!({"gate": "long"}),
            opts().timeout(Duration::from_secs(60)),
        )
        .await
        .unwrap();
    wait_event(&mut rx, "the start", |e| matches!(e, Event::Started { .. })).await;
    let lock_until = || async {
        a.list_queues().await.unwrap()[0]
            .lock
            .as_ref()
            .map(|l| l.until)
    };
    let first = lock_until().await.expect("locked");
    // A lease of 1.5 s, not the timeout's 61 s.
    assert!(
        first <= Utc::now() + chrono::Duration::seconds(5),
        "{first}"
    );
    // Another node polls all the while, and cannot take the queue.
    let b = Queuetopia::builder(t.reconnect().await, script.sibling("b"))
        .scope("s")
        .node("b")
        .poll_interval(Duration::from_millis(20))
        .start()
        .await
        .unwrap();
    for _ in 0..3 {
        let before = lock_until().await.expect("locked");
        eventually("a renewal", || async {
            lock_until().await.is_some_and(|u| u > before)
        })
        .await;
    }
    assert_eq!(
        b.stats().attempts,
        0,
        "the queue stayed with its renewing node"
    );
    assert_eq!(script.in_flight("q"), 1);
    // A takeover (here: the lock's token changed behind the node's back)
    // makes the next renewal fail, and the attempt is cancelled.
    t.execute("UPDATE queuetopia_queues SET lock_token = lock_token + 1")
        .await;
    let refused = wait_event(&mut rx, "the cancellation", |e| {
        matches!(e, Event::ResultRefused { .. })
    })
    .await;
    assert!(matches!(refused, Event::ResultRefused { job_id, attempt: 1 } if job_id == job.id));
    eventually("the performer dropped", || async {
        script.in_flight("q") <= 1
    })
    .await;
    a.shutdown(Duration::from_secs(5)).await.unwrap();
    b.shutdown(Duration::from_millis(100)).await.unwrap();
}

/// PostgreSQL's claim and result functions read with a fresh snapshot per
/// statement: under another isolation level they refuse to run rather than
/// park a queue, and the scheduler only logs and retries.
async fn claims_refuse_isolation_levels_they_cannot_trust(kind: Kind) {
    let t = fresh(kind).await;
    if kind != Kind::Postgres {
        return; // MySQL claims in a transaction of their own; SQLite has one writer.
    }
    let pool = t.db.pg_pool().unwrap();
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut *tx)
        .await
        .unwrap();
    let refused = sqlx::query("SELECT * FROM queuetopia_claim('s', NULL, 1, 'n', 100, 1, NULL)")
        .fetch_all(&mut *tx)
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("READ COMMITTED"), "{refused}");
    tx.rollback().await.unwrap();
    // Under READ COMMITTED the same call answers.
    let rows = sqlx::query("SELECT * FROM queuetopia_claim('s', NULL, 1, 'n', 100, 1, NULL)")
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "one 'examined' row");
}

/// Counts the notifications of the test's default placement (PostgreSQL):
/// creations notify when a queue becomes claimable, once per transaction,
/// and never from an instance that takes no part in wake-ups.
async fn creations_notify_only_when_a_queue_becomes_claimable(kind: Kind) {
    let t = fresh(kind).await;
    if !t.db.capabilities().notifications {
        return; // Nothing to count: other nodes poll.
    }
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

async fn a_head_retried_at_once_shows_its_queue_blocked_until_it_succeeds(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = node(&t.db, "s", &script).await;
    let mut rx = q.subscribe();
    let head = q
        .create_job(
            "a",
            "x",
            json!({"fail_times": 1, "backoff_ms": 0, "gate": "head"}),
            opts(),
        )
        .await
        .unwrap();
    let next = q
        .create_job("a", "x", json!({"gate": "next"}), opts())
        .await
        .unwrap();
    let started = |id: i64, attempts: u32| move |e: &Event| matches!(e, Event::Started { job } if job.id == id && job.attempts == attempts);
    // The first attempt fails; the second starts at once, on the same lock.
    script.open("head");
    wait_event(&mut rx, "the retry", started(head.id, 2)).await;
    let queues = q.list_queues().await.unwrap();
    let blocked = queues[0].blocked.as_ref().expect("blocked by its head");
    assert_eq!(
        (blocked.job_id, blocked.error.as_deref()),
        (head.id, Some("failure 1"))
    );
    let lock = queues[0].lock.as_ref().expect("locked");
    assert_eq!(lock.running_job_id, Some(head.id));
    // The head succeeds: the next job runs, and the queue is not blocked.
    script.open("head");
    wait_event(&mut rx, "the next job", started(next.id, 1)).await;
    let queues = q.list_queues().await.unwrap();
    assert!(queues[0].blocked.is_none(), "{queues:?}");
    let lock = queues[0].lock.as_ref().expect("locked");
    assert_eq!(lock.running_job_id, Some(next.id));
    script.open("next");
    let done = wait_successes(&mut rx, 1).await;
    assert_eq!(done[0].id, next.id);
    assert_eq!(script.order("a"), vec![head.id, head.id, next.id]);
    q.shutdown(Duration::from_secs(5)).await.unwrap();
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

/// A queue draining alone hands its lock straight to its next job (the
/// short path of a result): that job gets the same lease a claim gives it,
/// its own timeout plus the margin, or the renewed lease when that is
/// shorter.
async fn a_lock_handed_to_the_next_job_carries_that_jobs_lease(kind: Kind) {
    let t = fresh(kind).await;
    let clock = manual_clock();
    let now = clock.now().expect("a manual clock");
    for (scope, renewed) in [("full", None), ("capped", Some(Duration::from_secs(7)))] {
        let script = Script::new(scope);
        let mut builder = Queuetopia::builder(t.db.clone(), script.clone())
            .scope(scope)
            .node(scope)
            .poll_interval(Duration::from_secs(3600))
            .lease_margin(Duration::from_secs(2))
            .clock(clock.clone());
        if let Some(lease) = renewed {
            builder = builder.renewed_lease(lease);
        }
        let q = builder.start().await.unwrap();
        let mut rx = q.subscribe();
        let mut jobs = Vec::new();
        for (gate, timeout) in [("first", 10), ("second", 30)] {
            let options = opts().timeout(Duration::from_secs(timeout));
            jobs.push(
                q.create_job("a", "x", json!({ "gate": gate }), options)
                    .await
                    .unwrap(),
            );
        }
        for (i, job) in jobs.iter().enumerate() {
            wait_event(
                &mut rx,
                "the start",
                |e| matches!(e, Event::Started { job: j } if j.id == job.id),
            )
            .await;
            let lock = q.list_queues().await.unwrap()[0]
                .lock
                .clone()
                .expect("locked");
            let full = job.timeout + Duration::from_secs(2);
            let lease = renewed.map_or(full, |cap| cap.min(full));
            assert_eq!(lock.running_job_id, Some(job.id), "{scope}, job {i}");
            assert_eq!(
                lock.until,
                now + chrono::Duration::from_std(lease).unwrap(),
                "{scope}, job {i}"
            );
            script.open(if i == 0 { "first" } else { "second" });
        }
        // (The first job's success went by while waiting for the second's start.)
        let done = wait_successes(&mut rx, 1).await;
        assert_eq!(done[0].id, jobs[1].id);
        assert_eq!(script.order("a"), vec![jobs[0].id, jobs[1].id]);
        assert_eq!(q.stats().result_commits, 2, "{scope}: one commit per job");
        q.shutdown(Duration::from_secs(5)).await.unwrap();
    }
}

/// A queue that ends a job while other queues wait for a slot goes behind
/// them: its lock is handed straight to its next job only when nobody waits.
async fn waiting_queues_take_turns_with_a_draining_one(kind: Kind) {
    let t = fresh(kind).await;
    let producer = producer(&t.db, "s").await;
    let mut created = Vec::new();
    for queue in ["a", "b"] {
        for i in 0..3 {
            created.push(
                producer
                    .create_job(queue, "x", json!({ "i": i }), opts())
                    .await
                    .unwrap(),
            );
        }
    }
    let script = Script::new("n1");
    let q = Queuetopia::builder(t.db.clone(), script.clone())
        .scope("s")
        .poll_interval(Duration::from_secs(3600))
        .max_concurrent_jobs(1)
        .start()
        .await
        .unwrap();
    let mut rx = q.subscribe();
    wait_successes(&mut rx, 6).await;
    let ran: Vec<i64> = script.runs().iter().map(|r| r.job_id).collect();
    let (a, b) = created.split_at(3);
    let turns: Vec<i64> = a.iter().zip(b).flat_map(|(a, b)| [a.id, b.id]).collect();
    assert_eq!(ran, turns, "a and b take turns, a first (ready first)");
    q.shutdown(Duration::from_secs(5)).await.unwrap();
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

behaviour_tests!(
    claims_refuse_isolation_levels_they_cannot_trust,
    creations_notify_only_when_a_queue_becomes_claimable,
    renewed_leases_keep_long_jobs_and_a_lost_one_cancels,
    a_job_created_on_another_node_starts_at_once,
    lost_connections_are_survived,
    table_placement_keeps_instances_apart,
    unsafe_table_names_are_refused,
    a_burst_of_creations_into_a_busy_queue_makes_few_claims,
    a_connection_of_another_backend_is_refused,
    validation_errors_name_the_field_and_write_nothing,
    jobs_round_trip_every_field,
    jobs_run_in_order_of_creation,
    batch_creation_keeps_order_per_queue,
    a_created_batch_is_returned_as_stored,
    a_slow_queue_does_not_delay_the_others,
    a_failing_job_blocks_only_its_queue_until_it_succeeds,
    a_panicking_job_is_a_recorded_failure,
    a_timed_out_attempt_keeps_its_queue_locked_until_the_lease_ends,
    exhausted_jobs_are_skipped_by_default,
    exhausted_jobs_hold_their_queue_under_the_hold_policy,
    an_operator_skip_lets_a_held_queue_move_on,
    backoff_follows_the_clock,
    a_performer_can_give_up_or_name_the_next_delay,
    scheduled_jobs_wait_for_their_time,
    rolled_back_creations_leave_no_trace,
    transactional_creations_run_in_commit_order,
    two_schedulers_never_overlap_nor_reorder,
    a_crashed_nodes_lease_is_taken_over,
    a_stale_nodes_result_is_refused,
    shutdown_waits_then_interrupts_and_leaves_no_lock,
    scopes_never_see_each_other,
    max_concurrent_jobs_bounds_a_node,
    retention_deletes_only_old_done_jobs,
    the_cleaner_runs_by_itself,
    empty_queues_are_pruned_and_come_back,
    listing_filters_pages_and_searches,
    test_helpers_find_created_jobs,
    migrations_are_versioned_idempotent_and_reversible,
    concurrent_migrations_agree,
    a_new_job_runs_at_once_not_at_the_next_poll,
    a_producer_cannot_start_and_a_bad_setting_is_refused,
    tracing_names_each_step_with_its_fields,
    a_head_retried_at_once_shows_its_queue_blocked_until_it_succeeds,
    a_callers_open_transaction_holds_up_only_its_queue,
    a_lock_handed_to_the_next_job_carries_that_jobs_lease,
    waiting_queues_take_turns_with_a_draining_one,
    the_database_refuses_invalid_job_rows,
);
