//! A short run of every scenario on every backend, so that the benchmark
//! keeps building and running. It checks the output, never a speed.

use std::process::Command;

/// Runs `program` with `args`; its standard output, once it succeeded.
fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

const BENCH: &str = env!("CARGO_BIN_EXE_queuetopia-bench");

fn smoke(backend: &str) {
    let stdout = run(
        BENCH,
        &[
            "--backend",
            backend,
            "--scenario",
            "all",
            "--scale",
            "0.005",
            "--limit-secs",
            "0.1",
            "--json",
        ],
    );
    let rows: Vec<serde_json::Value> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let scenarios: Vec<&str> = rows.iter().filter_map(|r| r["scenario"].as_str()).collect();
    for expected in [
        "serial",
        "fanout",
        "wide",
        "blocked",
        "enqueue_single",
        "enqueue_batched",
        "latency",
        "nodes",
        "limits",
    ] {
        assert!(
            scenarios.contains(&expected),
            "{backend}: no {expected} in {scenarios:?}"
        );
    }
    for row in rows.iter().filter(|r| r["scenario"] != "limits") {
        assert_eq!(row["backend"], backend);
        assert!(row["jobs"].as_u64().is_some_and(|n| n > 0), "{row}");
        assert!(
            row["jobs_per_sec"].as_f64().is_some_and(|v| v > 0.0),
            "{row}"
        );
        if let Some(limit) = row["limit_per_sec"].as_f64() {
            assert!(limit > 0.0 && row["ratio"].as_f64().is_some(), "{row}");
        }
    }
    let wide = rows.iter().find(|r| r["scenario"] == "wide").expect("wide");
    assert!(
        wide["rss_peak_mib"].as_f64().is_some_and(|m| m > 0.0),
        "{wide}"
    );
    let batched = rows
        .iter()
        .find(|r| r["scenario"] == "enqueue_batched")
        .expect("enqueue_batched");
    assert_eq!(batched["limit_name"], "bare_insert", "{batched}");
    let latency = rows
        .iter()
        .find(|r| r["scenario"] == "latency")
        .expect("latency");
    assert!(latency["latency_ms"]["p99"].as_f64().is_some(), "{latency}");
}

#[test]
fn smoke_sqlite() {
    smoke("sqlite");
}

#[test]
fn smoke_postgres() {
    smoke("postgres");
}

#[test]
fn smoke_mysql() {
    smoke("mysql");
}

/// `bench/floor.sh`, one round of one second per figure: it runs, and
/// prints every figure with its ratio.
#[test]
fn floor_postgres() {
    // The tables it writes to: the benchmark migrates them.
    run(
        BENCH,
        &[
            "--backend",
            "postgres",
            "--scenario",
            "latency",
            "--scale",
            "0.002",
            "--limit-secs",
            "0.1",
        ],
    );
    let stdout = run(
        concat!(env!("CARGO_MANIFEST_DIR"), "/floor.sh"),
        &["1", "1"],
    );
    for (writes, against) in [
        ("serial:", "limit_1"),
        ("fanout: 4 rows", "limit_10"),
        ("fanout: 5 per commit, 2 writers", "limit_10"),
        ("fanout: 10 jobs", "limit_10"),
        ("fanout: 10 per commit, 2 writers", "limit_10"),
        ("create:", "limit_1"),
    ] {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(writes))
            .unwrap_or_else(|| panic!("no {writes} row in\n{stdout}"));
        let figures: Vec<f64> = line
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        // … jobs/s, its limit's rate, the ratio, the target (after the
        // numbers in the row's name).
        let [.., per_sec, limit, ratio, _target] = figures[..] else {
            panic!("{line}");
        };
        assert!(line.contains(against), "{line}");
        assert!(per_sec > 0.0 && limit > 0.0 && ratio > 0.0, "{line}");
    }
}
