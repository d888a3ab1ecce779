//! Metrics: a scripted run, then the recorder's values, by name and labels.

use std::sync::OnceLock;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

#[allow(clippy::wildcard_imports)]
use crate::prelude::*;

/// The process's recorder (each test runs in a process of its own under
/// nextest; the scope label keeps tests apart otherwise).
fn recorder() -> &'static Snapshotter {
    static SNAPSHOTTER: OnceLock<Snapshotter> = OnceLock::new();
    SNAPSHOTTER.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder
            .install()
            .expect("no other recorder in this process");
        snapshotter
    })
}

/// What the recorder holds (reading it empties it).
type Snapshot = Vec<(
    metrics_util::CompositeKey,
    Option<metrics::Unit>,
    Option<metrics::SharedString>,
    DebugValue,
)>;

/// The count of metric `name` whose labels include `labels`: a counter's
/// value, or a histogram's number of samples.
fn count(snapshot: &Snapshot, name: &str, labels: &[(&str, &str)]) -> u64 {
    let found = snapshot.iter().find(|(key, ..)| {
        let key = key.key();
        key.name() == name
            && labels
                .iter()
                .all(|(k, v)| key.labels().any(|l| l.key() == *k && l.value() == *v))
    });
    match found.map(|(.., value)| value) {
        Some(DebugValue::Counter(n)) => *n,
        Some(DebugValue::Histogram(samples)) => samples.len() as u64,
        other => panic!("{name} {labels:?}: {other:?}"),
    }
}

async fn a_run_is_counted_by_scope_action_and_outcome(kind: Kind) {
    recorder();
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = node(&t.db, "m", &script).await;
    let mut rx = q.subscribe();
    q.create_job(
        "a",
        "send",
        json!({"fail_times": 1, "backoff_ms": 0}),
        opts(),
    )
    .await
    .unwrap();
    q.create_job("b", "send", json!({}), opts()).await.unwrap();
    let held = q
        .create_job(
            "c",
            "bill",
            json!({"fail_times": 9}),
            opts().max_attempts(1).on_exhausted(ExhaustionPolicy::Hold),
        )
        .await
        .unwrap();
    wait_each(
        &mut rx,
        "two successes and a hold",
        &[
            &|e: &Event| matches!(e, Event::Succeeded { job } if job.queue == "a"),
            &|e: &Event| matches!(e, Event::Succeeded { job } if job.queue == "b"),
            &|e: &Event| {
                matches!(
                    e,
                    Event::Failed {
                        verdict: Verdict::Hold,
                        ..
                    }
                )
            },
        ],
    )
    .await;
    q.skip_job(held.id).await.unwrap();
    let snapshot: Snapshot = recorder().snapshot().into_vec();
    let count = |name: &str, labels: &[(&str, &str)]| count(&snapshot, name, labels);
    let send = [("scope", "m"), ("action", "send")];
    let bill = [("scope", "m"), ("action", "bill")];
    assert_eq!(count("queuetopia_jobs_created_total", &send), 2);
    assert_eq!(count("queuetopia_jobs_created_total", &bill), 1);
    assert_eq!(count("queuetopia_attempts_started_total", &send), 3);
    assert_eq!(count("queuetopia_attempts_started_total", &bill), 1);
    let outcome = |action: &'static str, outcome: &'static str| {
        count(
            "queuetopia_attempts_ended_total",
            &[("scope", "m"), ("action", action), ("outcome", outcome)],
        )
    };
    assert_eq!(outcome("send", "succeeded"), 2);
    assert_eq!(outcome("send", "failed"), 1);
    assert_eq!(outcome("bill", "failed"), 1);
    assert_eq!(count("queuetopia_jobs_held_total", &bill), 1);
    assert_eq!(count("queuetopia_attempt_duration_seconds", &send), 3);
    assert_eq!(count("queuetopia_attempt_wait_seconds", &send), 3);
    assert_eq!(
        count(
            "queuetopia_operator_actions_total",
            &[("scope", "m"), ("action", "skip")]
        ),
        1
    );
    // No label names a queue.
    assert!(
        snapshot
            .iter()
            .all(|(key, ..)| key.key().labels().all(|l| l.key() != "queue")),
        "{snapshot:?}"
    );
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

behaviour_tests!(a_run_is_counted_by_scope_action_and_outcome);
