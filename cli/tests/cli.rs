#![allow(clippy::unwrap_used)]
//! The `queuetopia` command line, run as a binary against every backend:
//! an operator's session end to end, bad input, and the schema commands.

#[macro_use]
#[path = "../../queuetopia/tests/common/mod.rs"]
mod common;

use std::process::Output;
use std::time::Duration;

use common::{Kind, Script, TestDb, fresh, fresh_unmigrated, wait_event, wait_successes};
use queuetopia::{Event, ExhaustionPolicy, JobOptions, JobState, Queuetopia, Verdict};
use serde_json::{Value, json};

/// Runs `queuetopia` with the database's arguments, then `args`.
async fn cli(t: &TestDb, args: &[&str]) -> Output {
    let mut all = t.cli_args().await;
    all.extend(["--scope".to_owned(), "s".to_owned()]);
    all.extend(args.iter().map(|a| (*a).to_owned()));
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_queuetopia"))
            .args(&all)
            .env_remove("DATABASE_URL")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the exit code, showing what was printed when it is not the one.
fn code(out: &Output, expected: i32) {
    assert_eq!(
        out.status.code(),
        Some(expected),
        "stdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
}

fn json_of(out: &Output) -> Value {
    code(out, 0);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

/// Find the held queue, read its head's error, fix its params, retry it,
/// see the queue drain, and read the audit.
async fn an_operator_finds_a_held_queue_fixes_it_and_sees_it_drain(kind: Kind) {
    let t = fresh(kind).await;
    let script = Script::new("n1");
    let q = Queuetopia::builder(t.db.clone(), script.clone())
        .scope("s")
        .node("n1")
        .poll_interval(Duration::from_secs(3600))
        .start()
        .await
        .unwrap();
    let mut rx = q.subscribe();
    let options = JobOptions::default()
        .max_attempts(1)
        .on_exhausted(ExhaustionPolicy::Hold);
    let head = q
        .create_job("mail:42", "send", json!({"fail_times": 1}), options)
        .await
        .unwrap();
    let behind = q
        .create_job("mail:42", "send", json!({}), JobOptions::default())
        .await
        .unwrap();
    q.create_job(
        "mail:7",
        "send",
        json!({"gate": "g"}),
        JobOptions::default(),
    )
    .await
    .unwrap();
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
    let held = json_of(&cli(&t, &["queues", "--held", "--json"]).await);
    let held = held.as_array().unwrap();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["queue"], "mail:42");
    assert_eq!(held[0]["blocked"]["error"], "failure 1");
    let table = cli(&t, &["queues"]).await;
    code(&table, 0);
    let text = stdout(&table);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("QUEUE"), "{lines:?}");
    assert!(
        lines[1].starts_with("mail:42") && lines[1].contains("held"),
        "{lines:?}"
    );
    let id = head.id.to_string();
    let shown = json_of(&cli(&t, &["jobs", "show", &id, "--json"]).await);
    assert_eq!(shown["state"], "held");
    assert_eq!(shown["job"]["error"], "failure 1");
    let edit = [
        "--actor", "dana", "--reason", "INC-1", "edit", &id, "--params", "{}",
    ];
    code(&cli(&t, &edit).await, 0);
    code(&cli(&t, &["--actor", "dana", "retry", &id]).await, 0);
    // The command line's process wakes no scheduler of this one (but for
    // PostgreSQL's notifications): look now rather than at the next poll.
    q.wake();
    let done = wait_successes(&mut rx, 2).await;
    assert_eq!((done[0].id, done[1].id), (head.id, behind.id));
    let audit = json_of(&cli(&t, &["audit", "--json"]).await);
    let entries = audit["entries"].as_array().unwrap();
    let seen: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(seen, [("retry", "dana"), ("edit", "dana")]);
    assert_eq!(entries[1]["reason"], "INC-1");
    assert_eq!(entries[1]["params_before"]["fail_times"], 1);
    script.open("g");
    q.shutdown(Duration::from_secs(5)).await.unwrap();
}

/// Wrong input: one line on stderr, a documented exit code, nothing changed.
async fn bad_input_gets_one_line_an_exit_code_and_changes_nothing(kind: Kind) {
    let t = fresh(kind).await;
    let q = Queuetopia::producer(t.db.clone())
        .scope("s")
        .build()
        .await
        .unwrap();
    let job = q
        .create_job("a", "x", json!({}), JobOptions::default())
        .await
        .unwrap();
    let id = job.id.to_string();
    let one_error_line = |out: &Output| {
        let err = stderr(out);
        assert!(
            err.starts_with("error: ") && err.lines().count() == 1,
            "{err:?}"
        );
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{err:?}"
        );
    };
    for (args, expected) in [
        (vec!["jobs", "show", "999999999"], 3),
        (vec!["edit", &id, "--params", "{}"], 3),
        (vec!["edit", &id, "--params", "not json"], 2),
        (vec!["edit", &id, "--params", "[1]"], 2),
        (vec!["jobs", "list", "--state", "sleeping"], 2),
        (vec!["resume", "a"], 3),
        (vec!["pause", ""], 2),
        (vec!["cleanup", "--older-than", "soon"], 2),
        // Bulk writes without a terminal need --yes.
        (vec!["skip", "--queue-prefix", "a"], 4),
        (vec!["skip"], 2),
        (vec!["skip", &id, "--all"], 2),
    ] {
        let out = cli(&t, &args).await;
        code(&out, expected);
        one_error_line(&out);
    }
    let dry = json_of(&cli(&t, &["skip", "--queue-prefix", "a", "--dry-run", "--json"]).await);
    assert_eq!(dry["matched"], 1);
    assert_eq!(q.get_job(job.id).await.unwrap().state, JobState::Pending);
    // A hostile queue name is a name like any other.
    let hostile = "a'; DROP TABLE queuetopia_jobs; --\"";
    code(&cli(&t, &["pause", hostile]).await, 0);
    let paused = json_of(&cli(&t, &["queues", "--paused", "--json"]).await);
    assert_eq!(paused[0]["queue"], hostile);
    let cancelled = json_of(&cli(&t, &["cancel", "--all", "--yes", "--json"]).await);
    assert_eq!(
        (cancelled["matched"].as_u64(), cancelled["acted"].as_u64()),
        (Some(1), Some(1))
    );
    // A database that is not there.
    let out = tokio::task::spawn_blocking(|| {
        std::process::Command::new(env!("CARGO_BIN_EXE_queuetopia"))
            .args([
                "--connect-timeout",
                "1",
                "--database-url",
                "postgres://nobody@127.0.0.1:1/none",
                "queues",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    code(&out, 1);
    one_error_line(&out);
}

async fn migrate_and_health_say_where_the_schema_is(kind: Kind) {
    let t = fresh_unmigrated(kind).await;
    let latest = t.db.latest_schema_version().to_string();
    code(&cli(&t, &["health"]).await, 1);
    let status = cli(&t, &["migrate", "status"]).await;
    code(&status, 0);
    assert!(stdout(&status).contains("version 0"), "{}", stdout(&status));
    code(&cli(&t, &["migrate", "up"]).await, 0);
    let health = cli(&t, &["health"]).await;
    code(&health, 0);
    assert!(stdout(&health).contains(&latest), "{}", stdout(&health));
    code(&cli(&t, &["migrate", "down", "--to", "0"]).await, 0);
    assert_eq!(t.db.schema_version().await.unwrap(), 0);
    code(&cli(&t, &["health"]).await, 1);
}

behaviour_tests!(
    an_operator_finds_a_held_queue_fixes_it_and_sees_it_drain,
    bad_input_gets_one_line_an_exit_code_and_changes_nothing,
    migrate_and_health_say_where_the_schema_is,
);
