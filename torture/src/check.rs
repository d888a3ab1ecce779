//! The checks: what the ledger and the jobs table say about the run.

use std::collections::HashMap;
use std::time::Duration;

use queuetopia::{Job, JobFilter, Queuetopia};
use serde_json::json;

use crate::args::Options;
use crate::ledger::{Execution, Ledger};

/// The faults the coordinator injected, with their times (µs).
#[derive(Debug, Default)]
pub(crate) struct Faults {
    pub(crate) kills: Vec<(String, i64)>,
    pub(crate) stops: Vec<(String, i64, i64)>,
    /// Node, exited cleanly, locks it left.
    pub(crate) terms: Vec<(String, bool, usize)>,
    /// From, to, whether the restart command succeeded.
    pub(crate) restarts: Vec<(i64, i64, bool)>,
}

/// When a node process lived.
#[derive(Debug)]
pub(crate) struct NodeLife {
    pub(crate) name: String,
    pub(crate) ended_at: i64,
    pub(crate) how: String,
}

pub(crate) struct Run {
    pub(crate) total: usize,
    pub(crate) drained: bool,
    pub(crate) elapsed: Duration,
    pub(crate) faults: Faults,
    pub(crate) lives: Vec<NodeLife>,
}

pub(crate) struct Report {
    pub(crate) ok: bool,
}

fn us(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_micros()
}

async fn all_jobs(q: &Queuetopia) -> queuetopia::Result<Vec<Job>> {
    let mut filter = JobFilter::default().oldest_first().limit(1000);
    let mut jobs = Vec::new();
    loop {
        let page = q.list_jobs(&filter).await?;
        jobs.extend(page.jobs.into_iter().map(|e| e.job));
        match page.next {
            Some(cursor) => filter = filter.after(cursor),
            None => return Ok(jobs),
        }
    }
}

/// The end of an execution: when it wrote its end, or when its node died;
/// an execution that met a SIGSTOP ends when its node froze (it ran on for
/// an instant after SIGCONT; that is counted apart).
fn effective_end(
    e: &Execution,
    lives: &HashMap<&str, &NodeLife>,
    stops: &[(String, i64, i64)],
) -> (i64, bool) {
    let end = e
        .ended_at
        .unwrap_or_else(|| lives.get(e.node.as_str()).map_or(i64::MAX, |l| l.ended_at));
    for (node, from, to) in stops {
        // Any execution of a frozen node that meets the frozen span stops
        // running at its start: what it does after SIGCONT is the instant
        // before its timeout cancels it (counted as resumed_after_stop). A
        // SIGSTOP takes a moment to land, so one may even start just after
        // `from`.
        if *node == e.node && e.started_at < *to && end > *from {
            return (e.started_at.max(*from), true);
        }
    }
    (end, false)
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

pub(crate) async fn run(
    q: &Queuetopia,
    ledger: &Ledger,
    scope: &str,
    o: &Options,
    run: Run,
) -> Result<Report, Box<dyn std::error::Error>> {
    let jobs = all_jobs(q).await?;
    let executions = ledger.executions(scope).await?;
    let lives: HashMap<&str, &NodeLife> = run.lives.iter().map(|l| (l.name.as_str(), l)).collect();
    let by_id: HashMap<i64, &Job> = jobs.iter().map(|j| (j.id, j)).collect();

    let lost = jobs
        .iter()
        .filter(|j| j.done_at.is_none() && j.given_up_at.is_none())
        .count();
    let done = jobs.iter().filter(|j| j.done_at.is_some()).count();
    let given_up = jobs.iter().filter(|j| j.given_up_at.is_some()).count();

    // Overlaps: per queue, no execution starts before the previous ones end.
    let mut per_queue: HashMap<&str, Vec<(i64, i64, &Execution)>> = HashMap::new();
    let mut resumed_after_stop = 0;
    for e in &executions {
        let (end, clipped) = effective_end(e, &lives, &run.faults.stops);
        resumed_after_stop += usize::from(clipped);
        per_queue
            .entry(e.queue.as_str())
            .or_default()
            .push((e.started_at, end, e));
    }
    let mut overlaps = Vec::new();
    for (queue, list) in per_queue.iter_mut() {
        list.sort_by_key(|(start, _, _)| *start);
        let mut busy_until = i64::MIN;
        let mut busy_with: Option<&Execution> = None;
        for (start, end, e) in list.iter() {
            if *start < busy_until {
                overlaps.push(json!({
                    "queue": queue,
                    "job": e.job_id, "attempt": e.attempt, "node": e.node,
                    "other_job": busy_with.map(|b| b.job_id), "other_node": busy_with.map(|b| b.node.clone()),
                    "overlap_us": busy_until - start,
                }));
            }
            if *end > busy_until {
                busy_until = *end;
                busy_with = Some(e);
            }
        }
    }

    // Order: no job starts before every job ahead of it in its queue is done
    // or given up.
    let mut order: HashMap<&str, Vec<&Job>> = HashMap::new();
    for j in &jobs {
        order.entry(j.queue.as_str()).or_default().push(j);
    }
    let mut ahead_done_by: HashMap<i64, i64> = HashMap::new();
    for list in order.values_mut() {
        list.sort_by_key(|a| (a.scheduled_at, a.sequence));
        let mut latest = i64::MIN;
        for j in list.iter() {
            ahead_done_by.insert(j.id, latest);
            let finished = j.done_at.or(j.given_up_at).map_or(i64::MAX, us);
            latest = latest.max(finished);
        }
    }
    let mut out_of_order = Vec::new();
    for e in &executions {
        if let Some(ahead) = ahead_done_by.get(&e.job_id)
            && *ahead > e.started_at
        {
            {
                out_of_order.push(json!({
                    "job": e.job_id, "attempt": e.attempt, "queue": e.queue,
                    "started_at": e.started_at, "ahead_finished_at": ahead,
                }));
            }
        }
    }

    // Results: one recorded success per job, by its last attempt, which ran ok.
    let mut successes: HashMap<i64, usize> = HashMap::new();
    let mut stale_writes = Vec::new();
    for e in &executions {
        if e.recorded.as_deref() == Some("done") {
            *successes.entry(e.job_id).or_default() += 1;
            let job = by_id.get(&e.job_id);
            let latest = job.is_some_and(|j| i64::from(j.attempts) == e.attempt);
            if !latest || e.outcome.as_deref() != Some("ok") {
                stale_writes.push(json!({"job": e.job_id, "attempt": e.attempt, "node": e.node}));
            }
        }
    }
    // Independently of what nodes recorded: every done job's final attempt is
    // an execution by the node the job names, that ran ok.
    let mut ran_ok: HashMap<(i64, i64, &str), bool> = HashMap::new();
    for e in &executions {
        if e.outcome.as_deref() == Some("ok") {
            ran_ok.insert((e.job_id, e.attempt, e.node.as_str()), true);
        }
    }
    for j in jobs.iter().filter(|j| j.done_at.is_some()) {
        let node = j.attempted_by.as_deref().unwrap_or("");
        if !ran_ok.contains_key(&(j.id, i64::from(j.attempts), node)) {
            stale_writes.push(json!({"job": j.id, "attempt": j.attempts, "node": node, "why": "done, but no such ok execution"}));
        }
    }
    let duplicates = successes.values().filter(|n| **n > 1).count();
    let refused = executions
        .iter()
        .filter(|e| e.recorded.as_deref() == Some("refused"))
        .count();

    // Healing: from a fault to the next start of each job the faulty node
    // had in flight.
    let mut starts: HashMap<i64, Vec<(i64, &str)>> = HashMap::new();
    for e in &executions {
        starts
            .entry(e.job_id)
            .or_default()
            .push((e.started_at, e.node.as_str()));
    }
    let heal = |node: &str, at: i64| -> Vec<i64> {
        executions
            .iter()
            .filter(|e| {
                e.node == node && e.started_at < at && e.ended_at.is_none_or(|end| end > at)
            })
            .filter_map(|e| {
                starts
                    .get(&e.job_id)?
                    .iter()
                    .filter(|(t, n)| *t > at && *n != node)
                    .map(|(t, _)| t - at)
                    .min()
            })
            .collect()
    };
    let mut kill_heal: Vec<i64> = run
        .faults
        .kills
        .iter()
        .flat_map(|(n, t)| heal(n, *t))
        .collect();
    kill_heal.sort_unstable();
    let mut stop_heal: Vec<i64> = run
        .faults
        .stops
        .iter()
        .flat_map(|(n, from, _)| heal(n, *from))
        .collect();
    stop_heal.sort_unstable();
    let restart_heal: Vec<i64> = run
        .faults
        .restarts
        .iter()
        .filter_map(|(from, to, _)| {
            executions
                .iter()
                .map(|e| e.started_at)
                .filter(|t| t > to)
                .min()
                .map(|t| t - from)
        })
        .collect();
    let terms_ok = run
        .faults
        .terms
        .iter()
        .all(|(_, clean, locks)| *clean && *locks == 0);
    let restarts_ok = run.faults.restarts.iter().all(|(_, _, ok)| *ok);
    let locks_left = q
        .list_queues()
        .await?
        .iter()
        .filter(|i| i.lock.is_some())
        .count();
    let clean_stops = run.lives.iter().filter(|l| l.how == "terminated").count();
    let unclean_stops = run
        .lives
        .iter()
        .filter(|l| l.how == "terminate failed")
        .count();

    let ok = run.drained
        && lost == 0
        && overlaps.is_empty()
        && out_of_order.is_empty()
        && duplicates == 0
        && stale_writes.is_empty()
        && terms_ok
        && restarts_ok
        && locks_left == 0
        && unclean_stops == 0;
    let secs = run.elapsed.as_secs_f64();
    let ms = |v: i64| v as f64 / 1000.0;
    let report = json!({
        "ok": ok,
        "backend": o.backend.name(),
        "nodes": o.nodes, "queues": o.queues, "jobs": run.total,
        "fail_rate": o.fail_rate, "max_attempts": o.max_attempts,
        "drained": run.drained,
        "seconds": secs,
        "jobs_per_sec": run.total as f64 / secs,
        "executions": executions.len(),
        "done": done, "given_up": given_up, "lost": lost,
        "overlaps": overlaps.len(), "out_of_order": out_of_order.len(),
        "duplicate_completions": duplicates, "stale_writes": stale_writes.len(),
        "results_refused": refused,
        "resumed_after_stop": resumed_after_stop,
        "locks_left": locks_left,
        "faults": {
            "kills": run.faults.kills.len(), "stops": run.faults.stops.len(),
            "terms": run.faults.terms.len(), "db_restarts": run.faults.restarts.len(),
            "clean_node_stops": clean_stops,
        },
        "heal_ms": {
            "kill_p50": ms(percentile(&kill_heal, 0.5)), "kill_max": ms(kill_heal.last().copied().unwrap_or(0)),
            "stop_p50": ms(percentile(&stop_heal, 0.5)), "stop_max": ms(stop_heal.last().copied().unwrap_or(0)),
            "db_restart": restart_heal.iter().map(|v| ms(*v)).collect::<Vec<_>>(),
        },
        "examples": {
            "overlaps": overlaps.iter().take(5).collect::<Vec<_>>(),
            "out_of_order": out_of_order.iter().take(5).collect::<Vec<_>>(),
            "stale_writes": stale_writes.iter().take(5).collect::<Vec<_>>(),
        },
    });
    println!(
        "torture run on {} — {}",
        o.backend.name(),
        if ok { "PASSED" } else { "FAILED" }
    );
    let row = |k: &str, v: String, must: &str| println!("  {k:<28} {v:>12}  {must}");
    row("jobs", run.total.to_string(), "");
    row(
        "drained before the deadline",
        run.drained.to_string(),
        "must be true",
    );
    row("done / given up", format!("{done} / {given_up}"), "");
    row("lost", lost.to_string(), "must be 0");
    row(
        "overlapping executions",
        overlaps.len().to_string(),
        "must be 0",
    );
    row("out of order", out_of_order.len().to_string(), "must be 0");
    row("duplicate completions", duplicates.to_string(), "must be 0");
    row(
        "writes after a lost lease",
        stale_writes.len().to_string(),
        "must be 0",
    );
    row("results refused", refused.to_string(), "");
    row("locks left", locks_left.to_string(), "must be 0");
    row(
        "faults (kill/stop/term/db)",
        format!(
            "{}/{}/{}/{}",
            run.faults.kills.len(),
            run.faults.stops.len(),
            run.faults.terms.len(),
            run.faults.restarts.len()
        ),
        "",
    );
    row(
        "heal after kill p50/max ms",
        format!(
            "{:.0}/{:.0}",
            ms(percentile(&kill_heal, 0.5)),
            ms(kill_heal.last().copied().unwrap_or(0))
        ),
        "",
    );
    row(
        "heal after stop p50/max ms",
        format!(
            "{:.0}/{:.0}",
            ms(percentile(&stop_heal, 0.5)),
            ms(stop_heal.last().copied().unwrap_or(0))
        ),
        "",
    );
    row(
        "heal after db restart ms",
        format!(
            "{:?}",
            restart_heal.iter().map(|v| v / 1000).collect::<Vec<_>>()
        ),
        "",
    );
    row(
        "throughput jobs/s",
        format!("{:.0}", run.total as f64 / secs),
        "",
    );
    if o.json {
        println!("{report}");
    }
    Ok(Report { ok })
}
