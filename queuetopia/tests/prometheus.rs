#![allow(clippy::unwrap_used)]
//! The `prometheus` feature: a scripted run on every backend, then the
//! rendered text, scraped as Prometheus would.

#[macro_use]
#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use common::{Kind, Script, fresh, wait_successes};
use queuetopia::{JobOptions, Queuetopia};
use serde_json::json;

/// The value of the sample `name{labels…}` in Prometheus's text format.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
        let found = metric == name
            && labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
        found.then(|| value.parse().ok()).flatten()
    })
}

async fn a_scripted_run_is_scraped_with_its_counts(kind: Kind) {
    let metrics = queuetopia::prometheus::install().unwrap();
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = Queuetopia::builder(t.db.clone(), script.clone())
        .scope("p")
        .poll_interval(Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    let mut rx = q.subscribe();
    let retried = json!({"fail_times": 1, "backoff_ms": 0});
    q.create_job("a", "send", retried, JobOptions::default())
        .await
        .unwrap();
    q.create_job("b", "send", json!({}), JobOptions::default())
        .await
        .unwrap();
    wait_successes(&mut rx, 2).await;
    let text = metrics.render();
    let labels = [("scope", "p"), ("action", "send")];
    let value = |name: &str, extra: &[(&str, &str)]| {
        let all: Vec<(&str, &str)> = labels.iter().chain(extra).copied().collect();
        sample(&text, name, &all).unwrap_or_else(|| panic!("no {name} {all:?} in:\n{text}"))
    };
    assert_eq!(value("queuetopia_jobs_created_total", &[]), 2.0);
    assert_eq!(value("queuetopia_attempts_started_total", &[]), 3.0);
    let ended = "queuetopia_attempts_ended_total";
    assert_eq!(value(ended, &[("outcome", "succeeded")]), 2.0);
    assert_eq!(value(ended, &[("outcome", "failed")]), 1.0);
    assert_eq!(value("queuetopia_attempt_duration_seconds_count", &[]), 3.0);
    assert_eq!(value("queuetopia_attempt_wait_seconds_count", &[]), 3.0);
    assert!(
        value(
            "queuetopia_attempt_duration_seconds_bucket",
            &[("le", "3600")]
        ) >= 3.0
    );
    // Every slot freed: the gauge is back to zero once the last attempt's
    // task has ended (the shutdown waits for them).
    q.shutdown(Duration::from_secs(5)).await.unwrap();
    let text = metrics.render();
    let running = sample(&text, "queuetopia_running_attempts", &[("scope", "p")]);
    assert_eq!(running, Some(0.0), "{text}");
}

behaviour_tests!(a_scripted_run_is_scraped_with_its_counts);
