//! Hostile input: generated job creations with SQL metacharacters, quotes,
//! unicode, NUL bytes, size boundaries, deep or huge params, extreme
//! durations and attempt counts. Each one either stores a job that reads
//! back exactly, or returns a validation error and writes nothing. Runs on
//! every backend, with a fixed seed so that a failure can be replayed.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Kind, Script, eventually, fresh};
use queuetopia::{Error, JobFilter, JobOptions, Queuetopia, defaults};
use serde_json::{Map, Value, json};

/// A small deterministic generator (xorshift64*), so that no dependency is
/// needed and every run sees the same cases.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const PIECES: &[&str] = &[
    "a",
    "A",
    "'",
    "\"",
    "\\",
    "%",
    "_",
    ";",
    "--",
    "/*",
    "*/",
    "; DROP TABLE queuetopia_jobs; --",
    "' OR '1'='1",
    "`",
    "$1",
    "?",
    "?1",
    " ",
    "\t",
    "\n",
    "\r",
    "é",
    "日本",
    "🦀",
    "\u{202e}",
    "\u{1}",
    "NULL",
    "null",
    "0",
    "queuetopia_",
    "\u{0}",
];

/// A name made of random pieces, sometimes at a byte-length boundary.
fn name(g: &mut Gen) -> String {
    match g.below(10) {
        0 => "x".repeat(255),
        1 => "x".repeat(256),
        2 => "é".repeat(127) + "x", // 255 bytes
        3 => "é".repeat(128),       // 256 bytes
        4 => "🦀".repeat(64),       // 256 bytes
        5 => String::new(),
        _ => (0..1 + g.below(6)).map(|_| *g.pick(PIECES)).collect(),
    }
}

fn scalar(g: &mut Gen) -> Value {
    match g.below(12) {
        0 => json!(u64::MAX),
        1 => json!(i64::MIN),
        2 => json!(f64::MAX),
        3 => json!(1e-300),
        4 => json!(-0.5),
        5 => json!(true),
        6 => Value::Null,
        7 => json!(""),
        _ => Value::String(name(g)),
    }
}

fn value(g: &mut Gen, depth: usize) -> Value {
    if depth == 0 {
        return scalar(g);
    }
    match g.below(4) {
        0 => Value::Array((0..g.below(4)).map(|_| value(g, depth - 1)).collect()),
        1 => {
            let mut map = Map::new();
            for _ in 0..g.below(4) {
                map.insert(name(g), value(g, depth - 1));
            }
            Value::Object(map)
        }
        _ => scalar(g),
    }
}

fn nested(levels: usize) -> Value {
    let mut v = json!("bottom");
    for i in 0..levels {
        v = if i % 2 == 0 {
            json!([v])
        } else {
            json!({ "k": v })
        };
    }
    json!({ "n": v })
}

fn params(g: &mut Gen) -> Value {
    match g.below(24) {
        0 => json!([1, 2]),
        1 => json!("not an object"),
        2 => json!(42),
        3 => Value::Null,
        4 => nested(defaults::MAX_PARAMS_DEPTH - 1),
        5 => nested(defaults::MAX_PARAMS_DEPTH + 5),
        6 => json!({ "big": "y".repeat(200_000) }),
        7 => json!({ "many": (0..5_000).collect::<Vec<_>>() }),
        8 => json!({ "": "empty key", "k\u{0}": 1 }),
        _ => {
            let mut map = Map::new();
            for _ in 0..g.below(5) {
                map.insert(name(g), value(g, 3));
            }
            Value::Object(map)
        }
    }
}

/// Random options, and what they were (JobOptions keeps its fields private).
fn options(g: &mut Gen) -> (JobOptions, Opts) {
    let durations = [
        Duration::ZERO,
        Duration::from_millis(1),
        Duration::from_secs(3600),
        defaults::MAX_DURATION,
        defaults::MAX_DURATION + Duration::from_millis(1),
        Duration::MAX,
    ];
    let attempts = [0, 1, 2, 20, i32::MAX as u32, i32::MAX as u32 + 1, u32::MAX];
    let mut o = JobOptions::default();
    let mut seen = Opts {
        timeout: defaults::TIMEOUT,
        max_backoff: defaults::MAX_BACKOFF,
        max_attempts: defaults::MAX_ATTEMPTS,
        delay: None,
    };
    if g.below(6) == 0 {
        seen.timeout = *g.pick(&durations);
        o = o.timeout(seen.timeout);
    }
    if g.below(6) == 0 {
        seen.max_backoff = *g.pick(&durations);
        o = o.max_backoff(seen.max_backoff);
    }
    if g.below(6) == 0 {
        seen.max_attempts = *g.pick(&attempts);
        o = o.max_attempts(seen.max_attempts);
    }
    if g.below(10) == 0 {
        let delay = *g.pick(&durations);
        seen.delay = Some(delay);
        o = o.delay(delay);
    }
    (o, seen)
}

/// What the library must say of a case: `None` when it is valid.
fn expected_error(queue: &str, action: &str, params: &Value, o: &Opts) -> Option<&'static str> {
    let bad_name = |n: &str| n.is_empty() || n.len() > 255 || n.contains('\u{0}');
    if bad_name(queue) {
        return Some("queue");
    }
    if bad_name(action) {
        return Some("action");
    }
    let Value::Object(map) = params else {
        return Some("params");
    };
    let text = params.to_string();
    if text.contains("\\u0000") || map.keys().any(|k| k.contains('\u{0}')) {
        return Some("params");
    }
    if depth(params) > defaults::MAX_PARAMS_DEPTH || text.len() > defaults::MAX_PARAMS_BYTES {
        return Some("params");
    }
    if o.timeout.is_zero() || o.timeout > defaults::MAX_DURATION {
        return Some("timeout");
    }
    if o.max_backoff > defaults::MAX_DURATION {
        return Some("max_backoff");
    }
    if o.delay.is_some_and(|d| d > defaults::MAX_DURATION) {
        return Some("delay");
    }
    if o.max_attempts == 0 || o.max_attempts > i32::MAX as u32 {
        return Some("max_attempts");
    }
    None
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// The options a case was given, for the oracle.
struct Opts {
    timeout: Duration,
    max_backoff: Duration,
    max_attempts: u32,
    delay: Option<Duration>,
}

async fn hostile_creations_round_trip_or_fail_cleanly(kind: Kind) {
    let t = fresh(kind).await;
    let q = Queuetopia::producer(t.db.clone())
        .scope("s")
        .build()
        .await
        .unwrap();
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    let (mut stored, mut refused) = (0, 0);
    // Per queue, in creation order: job id and whether it runs soon (no
    // delay, a timeout the performer cannot outrun).
    let mut per_queue: std::collections::HashMap<String, Vec<(i64, bool)>> = Default::default();
    for case in 0..400 {
        let (queue, action, params) = (name(&mut g), name(&mut g), params(&mut g));
        let (options, seen) = options(&mut g);
        let expected = expected_error(&queue, &action, &params, &seen);
        let before = q.list_jobs(&JobFilter::default().limit(1)).await.unwrap();
        match q
            .create_job(queue.as_str(), action.as_str(), &params, options.clone())
            .await
        {
            Ok(job) => {
                assert_eq!(expected, None, "case {case}: stored {queue:?}/{action:?}");
                let read = q.get_job(job.id).await.unwrap().job;
                assert_eq!(read, job, "case {case}");
                assert_eq!(read.queue, queue, "case {case}");
                assert_eq!(read.action, action, "case {case}");
                assert_eq!(Value::Object(read.params.clone()), params, "case {case}");
                let soon = seen.delay.is_none_or(|d| d.is_zero())
                    && seen.timeout >= Duration::from_secs(1);
                per_queue
                    .entry(queue.clone())
                    .or_default()
                    .push((job.id, soon));
                stored += 1;
            }
            Err(Error::Validation { field, .. }) => {
                assert_eq!(Some(field), expected, "case {case}: {queue:?}/{action:?}");
                let after = q.list_jobs(&JobFilter::default().limit(1)).await.unwrap();
                assert_eq!(
                    before.jobs.first().map(|e| e.job.id),
                    after.jobs.first().map(|e| e.job.id)
                );
                refused += 1;
            }
            Err(e) => panic!("case {case}: {queue:?}/{action:?}: unexpected {e}"),
        }
    }
    assert!(
        stored > 50 && refused > 50,
        "stored {stored}, refused {refused}"
    );
    // The stored jobs run, whatever their queue names.
    let script = Script::new("n1");
    let node = Queuetopia::builder(t.db.clone(), script.clone())
        .scope("s")
        .poll_interval(Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    // Every job that runs soon and has only such jobs ahead of it gets done.
    let expected: Vec<i64> = per_queue
        .values()
        .flat_map(|jobs| jobs.iter().take_while(|(_, soon)| *soon).map(|(id, _)| *id))
        .collect();
    assert!(expected.len() > 20, "{} jobs to run", expected.len());
    node.wake();
    eventually("the hostile jobs done", || async {
        let mut done = 0;
        for id in &expected {
            if node.get_job(*id).await.unwrap().state == queuetopia::JobState::Done {
                done += 1;
            }
        }
        done == expected.len()
    })
    .await;
    assert_eq!(script.overlaps.load(std::sync::atomic::Ordering::SeqCst), 0);
    node.shutdown(Duration::from_secs(5)).await.unwrap();
}

async fn names_differing_only_by_case_or_trailing_space_are_different_queues(kind: Kind) {
    let t = fresh(kind).await;
    let q = Queuetopia::producer(t.db.clone())
        .scope("s")
        .build()
        .await
        .unwrap();
    let names = ["a", "a ", "A", " a", "a\t"];
    for n in names {
        q.create_job(n, n, json!({}), JobOptions::default())
            .await
            .unwrap();
    }
    let queues = q.list_queues().await.unwrap();
    let mut listed: Vec<&str> = queues.iter().map(|i| i.queue.as_str()).collect();
    listed.sort_unstable();
    let mut expected = names.to_vec();
    expected.sort_unstable();
    assert_eq!(listed, expected);
    assert!(queues.iter().all(|i| i.size == 1), "{queues:?}");
    for n in names {
        let page = q.list_jobs(&JobFilter::default().queue(n)).await.unwrap();
        assert_eq!(page.jobs.len(), 1, "{n:?}");
        assert_eq!(page.jobs[0].job.queue, n);
    }
}

behaviour_tests!(
    hostile_creations_round_trip_or_fail_cleanly,
    names_differing_only_by_case_or_trailing_space_are_different_queues,
);
