//! What the command line prints: plain tables for people, JSON (`--json`)
//! for programs.

use chrono::{DateTime, Utc};
use queuetopia::{AuditPage, JobEntry, JobPage, JobState, QueueInfo};
use serde::Serialize;

use crate::args::QueueFilter;

/// Prints `value` as one JSON document.
pub(crate) fn json(value: &impl Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error: cannot print JSON: {e}"),
    }
}

/// A queue's state, the first that applies: paused, held, blocked,
/// running, waiting.
fn state(q: &QueueInfo) -> &'static str {
    match (&q.paused, &q.blocked, &q.lock) {
        (Some(_), _, _) => "paused",
        (None, Some(b), _) if b.held => "held",
        (None, Some(_), _) => "blocked",
        (None, None, Some(lock)) if lock.running_job_id.is_some() => "running",
        _ => "waiting",
    }
}

/// The queues the filter asks for, blocked and held first (oldest block
/// first), then by name, at most `limit`.
pub(crate) fn select_queues(queues: Vec<QueueInfo>, f: &QueueFilter) -> Vec<QueueInfo> {
    let wanted = [
        (f.blocked, "blocked"),
        (f.held, "held"),
        (f.paused, "paused"),
        (f.running, "running"),
        (f.waiting, "waiting"),
    ];
    let any = wanted.iter().any(|(on, _)| *on);
    let mut shown: Vec<QueueInfo> = queues
        .into_iter()
        .filter(|q| !any || wanted.iter().any(|(on, s)| *on && *s == state(q)))
        .filter(|q| {
            f.queue_prefix
                .as_deref()
                .is_none_or(|p| q.queue.starts_with(p))
        })
        .collect();
    shown.sort_by(|a, b| {
        let rank = |q: &QueueInfo| q.blocked.as_ref().map(|b| b.since);
        // Blocked first (Some before None), the oldest block first.
        match (rank(a), rank(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        }
        .then_with(|| a.queue.cmp(&b.queue))
    });
    shown.truncate(f.limit);
    shown
}

/// A time to the second, in UTC.
fn at(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// Prints rows of cells as aligned columns.
fn table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        line(row);
    }
}

/// One line of text: newlines and tabs of an error message folded.
fn one_line(text: &str, max: usize) -> String {
    let folded: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match folded.chars().count() > max {
        true => folded.chars().take(max - 1).collect::<String>() + "…",
        false => folded,
    }
}

pub(crate) fn queues(queues: &[QueueInfo]) {
    if queues.is_empty() {
        println!("no queues");
        return;
    }
    let rows = queues
        .iter()
        .map(|q| {
            let head = q.head.as_ref();
            vec![
                q.queue.clone(),
                state(q).to_owned(),
                q.size.to_string(),
                head.map_or(String::new(), |h| h.id.to_string()),
                head.map_or(String::new(), |h| {
                    format!("{}/{}", h.attempts, h.max_attempts)
                }),
                q.blocked.as_ref().map_or(String::new(), |b| at(b.since)),
                q.lock.as_ref().map_or(String::new(), |l| l.node.clone()),
                q.paused.as_ref().map_or(String::new(), |p| p.by.clone()),
                head.and_then(|h| h.error.as_deref())
                    .map_or(String::new(), |e| one_line(e, 60)),
            ]
        })
        .collect();
    table(
        &[
            "QUEUE",
            "STATE",
            "SIZE",
            "HEAD",
            "ATTEMPTS",
            "BLOCKED SINCE",
            "LOCKED BY",
            "PAUSED BY",
            "ERROR",
        ],
        rows,
    );
}

pub(crate) fn jobs(page: &JobPage) {
    let rows = page
        .jobs
        .iter()
        .map(|e| {
            let j = &e.job;
            vec![
                j.id.to_string(),
                j.queue.clone(),
                j.action.clone(),
                e.state.as_str().to_owned(),
                format!("{}/{}", j.attempts, j.max_attempts),
                j.error
                    .as_deref()
                    .map_or(String::new(), |e| one_line(e, 60)),
            ]
        })
        .collect();
    table(
        &["ID", "QUEUE", "ACTION", "STATE", "ATTEMPTS", "ERROR"],
        rows,
    );
    if let Some(next) = page.next {
        println!("more: --after {next}");
    }
}

pub(crate) fn job(entry: &JobEntry) {
    let j = &entry.job;
    let time = |t: Option<DateTime<Utc>>| t.map_or("-".to_owned(), at);
    println!("id            {}", j.id);
    println!("queue         {}", j.queue);
    println!("action        {}", j.action);
    println!("state         {}", entry.state.as_str());
    println!("attempts      {}/{}", j.attempts, j.max_attempts);
    println!("scheduled at  {}", at(j.scheduled_at));
    println!("attempted at  {}", time(j.attempted_at));
    println!("attempted by  {}", j.attempted_by.as_deref().unwrap_or("-"));
    // A held or running job's backoff is not when it runs next.
    let next = match entry.state {
        JobState::Retrying => j.next_attempt_at,
        _ => None,
    };
    println!("next attempt  {}", time(next));
    println!("done at       {}", time(j.done_at));
    println!("given up at   {}", time(j.given_up_at));
    println!("error         {}", j.error.as_deref().unwrap_or("-"));
    println!(
        "params        {}",
        serde_json::Value::Object(j.params.clone())
    );
}

pub(crate) fn audit(page: &AuditPage) {
    let rows = page
        .entries
        .iter()
        .map(|e| {
            vec![
                e.id.to_string(),
                at(e.at),
                e.actor.clone(),
                e.action.clone(),
                e.queue.clone().unwrap_or_default(),
                e.job_id.map_or(String::new(), |id| id.to_string()),
                e.reason
                    .as_deref()
                    .map_or(String::new(), |r| one_line(r, 60)),
            ]
        })
        .collect();
    table(
        &["ID", "AT", "ACTOR", "ACTION", "QUEUE", "JOB", "REASON"],
        rows,
    );
    if let Some(next) = page.next {
        println!("more: --after {next}");
    }
}
