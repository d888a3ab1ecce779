#![allow(clippy::unwrap_used)]
//! The behaviour suite, by area. Each case is written once, as a function
//! of the backend, and runs on every backend (`behaviour_tests!` at the
//! bottom of its file); the few that test one backend's own mechanism
//! (PostgreSQL's functions and notifications) are declared with
//! `postgres_only_tests!` and counted apart by `scripts/test`.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod cleanup;
mod creation;
mod leases;
mod listing;
mod metrics;
mod operators;
mod order_and_blocking;
mod retries;
mod schema;
mod timeouts;
mod wakeups;

/// What every area uses: imports and the suite's helpers.
#[allow(unused_imports)]
mod prelude {
    pub(crate) use std::time::Duration;

    pub(crate) use chrono::{DateTime, Utc};
    pub(crate) use queuetopia::testing::{JobMatch, assert_job_created, refute_job_created};
    pub(crate) use queuetopia::{
        AuditFilter, BulkFilter, Clock, Error, Event, ExhaustionPolicy, JobFilter, JobOptions,
        JobState, NewJob, Operator, Queuetopia, Verdict,
    };
    pub(crate) use serde_json::json;

    pub(crate) use crate::common;
    pub(crate) use crate::common::{
        Kind, Script, eventually, fresh, wait_each, wait_event, wait_successes,
    };

    pub(crate) fn opts() -> JobOptions {
        JobOptions::default()
    }

    /// A manual clock starting at the real now, rounded to the millisecond.
    pub(crate) fn manual_clock() -> Clock {
        let now = Utc::now();
        let now = DateTime::from_timestamp_millis(now.timestamp_millis()).expect("valid");
        Clock::manual(now)
    }

    pub(crate) fn succeeded(e: &Event) -> bool {
        matches!(e, Event::Succeeded { .. })
    }

    pub(crate) fn failed_with(e: &Event, verdict: Verdict) -> bool {
        matches!(e, Event::Failed { verdict: v, .. } if *v == verdict)
    }

    /// A scheduler that only moves when woken (a poll interval of an hour).
    pub(crate) async fn node(db: &queuetopia::Db, scope: &str, script: &Script) -> Queuetopia {
        Queuetopia::builder(db.clone(), script.clone())
            .scope(scope)
            .node(script.node.clone())
            .poll_interval(Duration::from_secs(3600))
            .start()
            .await
            .expect("start")
    }

    pub(crate) async fn producer(db: &queuetopia::Db, scope: &str) -> Queuetopia {
        Queuetopia::producer(db.clone())
            .scope(scope)
            .build()
            .await
            .expect("build")
    }

    /// Waits until a job that was created after `change` ran, which proves that
    /// the scheduler made a claim after `change`.
    pub(crate) async fn probe(q: &Queuetopia, rx: &mut tokio::sync::broadcast::Receiver<Event>) {
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
}
