//! The coordinator: creates the jobs, starts the node processes, injects the
//! faults, waits for the queues to drain, then has the ledger checked.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use queuetopia::{JobOptions, NewJob, Queuetopia};
use serde_json::json;

use crate::args::{Backend, Options};
use crate::check::{self, Faults, NodeLife};
use crate::ledger::{Ledger, now_us};

struct Node {
    name: String,
    child: Child,
    /// Whether it said it handles SIGTERM (the first line of its log).
    ready: bool,
}

struct Fleet {
    options: Options,
    scope: String,
    log_dir: std::path::PathBuf,
    nodes: Vec<Node>,
    spawned: usize,
    lives: Vec<NodeLife>,
}

impl Fleet {
    fn spawn(&mut self) -> Result<(), String> {
        self.spawned += 1;
        let name = format!("node-{}", self.spawned);
        let log = std::fs::File::create(self.log_dir.join(format!("{name}.log")))
            .map_err(|e| e.to_string())?;
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let o = &self.options;
        let child = Command::new(exe)
            .args([
                "node",
                o.backend.name(),
                &o.url,
                &self.scope,
                &name,
                &o.fail_rate.to_string(),
                &o.job_ms.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start a node: {e}"))?;
        self.nodes.push(Node {
            name,
            child,
            ready: false,
        });
        Ok(())
    }

    /// Whether node `i` handles SIGTERM yet: its log starts with the line
    /// it writes once its handler is in place. Before that (a node just
    /// started, or stopped as it started) SIGTERM would kill it outright.
    fn ready(&mut self, i: usize) -> bool {
        let node = &mut self.nodes[i];
        if !node.ready {
            let log = std::fs::read_to_string(self.log_dir.join(format!("{}.log", node.name)))
                .unwrap_or_default();
            node.ready = log.starts_with(crate::node::READY);
        }
        node.ready
    }

    fn pick(&self, n: u64) -> usize {
        (n % self.nodes.len() as u64) as usize
    }

    /// Records the end of a node's life.
    fn ended(&mut self, node: Node, how: &str) {
        self.lives.push(NodeLife {
            name: node.name,
            ended_at: now_us(),
            how: how.to_owned(),
        });
    }

    fn kill(&mut self, index: usize) {
        let mut node = self.nodes.remove(index);
        let _ = node.child.kill(); // SIGKILL
        let _ = node.child.wait();
        self.ended(node, "killed");
    }

    /// SIGTERMs a node and waits for it to exit; returns whether it exited
    /// cleanly in time.
    async fn terminate(&mut self, index: usize) -> bool {
        let mut node = self.nodes.remove(index);
        signal(node.child.id(), "-TERM");
        let deadline = Instant::now() + Duration::from_secs(20);
        let clean = loop {
            match node.child.try_wait() {
                Ok(Some(status)) => break status.success(),
                Ok(None) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                _ => {
                    let _ = node.child.kill();
                    let _ = node.child.wait();
                    break false;
                }
            }
        };
        if !clean {
            self.show_log(&node.name);
        }
        self.ended(
            node,
            if clean {
                "terminated"
            } else {
                "terminate failed"
            },
        );
        clean
    }

    /// Prints the end of a node's log, to say why it did not stop cleanly.
    fn show_log(&self, name: &str) {
        let log =
            std::fs::read_to_string(self.log_dir.join(format!("{name}.log"))).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        eprintln!("torture: the last lines of {name}'s log:");
        for line in &lines[lines.len().saturating_sub(15)..] {
            eprintln!("  {line}");
        }
    }
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").args([sig, &pid.to_string()]).status();
}

/// A small deterministic generator for picking nodes.
struct Dice(u64);

impl Dice {
    fn roll(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The shell commands that stop, then start, the database server: the
/// options', or `scripts/services` (the Debian ones, run from the workspace
/// root, as `scripts/torture` does). None for SQLite, which has no server.
fn restart_commands(o: &Options) -> Option<(String, String)> {
    let name = match o.backend {
        Backend::Sqlite => return None,
        backend => backend.name(),
    };
    let stop = o
        .stop_command
        .clone()
        .unwrap_or_else(|| format!("scripts/services stop {name}"));
    let start = o
        .start_command
        .clone()
        .unwrap_or_else(|| "scripts/services".to_owned());
    Some((stop, start))
}

/// Jobs neither done nor given up, summed over the scope's queues.
async fn open_jobs(q: &Queuetopia) -> Option<u64> {
    q.list_queues()
        .await
        .ok()
        .map(|queues| queues.iter().map(|i| i.size).sum())
}

/// Cross-node pickup latency: each job is created here and run by a node
/// process; the latency is from just before the creation to the start of the
/// performer on the node (both on this machine's clock).
async fn pickup(o: Options, db: queuetopia::Db, ledger: Ledger) -> Result<bool, String> {
    let scope = format!("pickup-{}", now_us());
    let producer = Queuetopia::producer(db)
        .scope(scope.clone())
        .build()
        .await
        .map_err(|e| e.to_string())?;
    let log_dir = std::env::temp_dir().join(format!("queuetopia-{scope}"));
    std::fs::create_dir_all(&log_dir).map_err(|e| e.to_string())?;
    let mut fleet = Fleet {
        options: Options {
            fail_rate: 0.0,
            job_ms: 0,
            ..o.clone()
        },
        scope: scope.clone(),
        log_dir: log_dir.clone(),
        nodes: Vec::new(),
        spawned: 0,
        lives: Vec::new(),
    };
    fleet.spawn()?;
    // Let the node start and listen.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut latencies = Vec::with_capacity(o.pickup);
    for i in 0..o.pickup {
        let before = now_us();
        let job = producer
            .create_job(format!("p{i}"), "pickup", json!({}), JobOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        let deadline = Instant::now() + Duration::from_secs(5);
        let started = loop {
            if let Some(t) = ledger
                .first_start(&scope, job.id)
                .await
                .map_err(|e| e.to_string())?
            {
                break t;
            }
            if Instant::now() > deadline {
                return Err(format!("job {} was not picked up within 5 s", job.id));
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        latencies.push(started - before);
    }
    fleet.terminate(0).await;
    let _ = std::fs::remove_dir_all(&log_dir);
    latencies.sort_unstable();
    let ms = |p: f64| {
        let i = ((latencies.len() - 1) as f64 * p).round() as usize;
        latencies[i] as f64 / 1000.0
    };
    let report = json!({
        "scenario": "cross-node pickup",
        "backend": o.backend.name(),
        "jobs": latencies.len(),
        "p50_ms": ms(0.5), "p99_ms": ms(0.99), "max_ms": ms(1.0),
    });
    println!(
        "cross-node pickup on {}: {} jobs, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        o.backend.name(),
        latencies.len(),
        ms(0.5),
        ms(0.99),
        ms(1.0)
    );
    if o.json {
        println!("{report}");
    }
    Ok(true)
}

pub(crate) async fn run(o: Options) -> Result<bool, String> {
    let db = queuetopia::connect(&o.url)
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", o.url))?;
    db.migrate().await.map_err(|e| e.to_string())?;
    let ledger = Ledger::new(db.clone(), o.backend);
    ledger.create().await.map_err(|e| e.to_string())?;
    if o.pickup > 0 {
        return pickup(o, db, ledger).await;
    }
    let scope = format!("torture-{}", now_us());
    let producer = Queuetopia::producer(db.clone())
        .scope(scope.clone())
        .build()
        .await
        .map_err(|e| e.to_string())?;

    // Jobs go in round by round across the queues, so that each queue's
    // order spans many batches.
    let total = o.queues * o.jobs_per_queue;
    let options = JobOptions::default()
        .timeout(Duration::from_millis(o.timeout_ms))
        .max_attempts(o.max_attempts);
    for round in 0..o.jobs_per_queue {
        let batch: Vec<NewJob> = (0..o.queues)
            .map(|k| {
                NewJob::new(
                    format!("q{k}"),
                    "work",
                    json!({"round": round}),
                    options.clone(),
                )
                .expect("valid job")
            })
            .collect();
        producer
            .create_jobs(batch)
            .await
            .map_err(|e| e.to_string())?;
    }
    eprintln!(
        "torture: {} jobs in {} queues created in scope {scope}; starting {} nodes",
        total, o.queues, o.nodes
    );

    let log_dir = std::env::temp_dir().join(format!("queuetopia-{scope}"));
    std::fs::create_dir_all(&log_dir).map_err(|e| e.to_string())?;
    let mut fleet = Fleet {
        options: o.clone(),
        scope: scope.clone(),
        log_dir: log_dir.clone(),
        nodes: Vec::new(),
        spawned: 0,
        lives: Vec::new(),
    };
    for _ in 0..o.nodes {
        fleet.spawn()?;
    }

    let started = Instant::now();
    let mut faults = Faults::default();
    let mut dice = Dice(0x2545_f491_4f6c_dd1d);
    let tick = Duration::from_millis(200);
    let (mut next_kill, mut next_stop, mut next_term) = (
        o.kill_every.map(|d| started + d),
        o.stop_every.map(|d| started + d),
        o.term_every.map(|d| started + d),
    );
    let mut restarted = !o.restart_db;
    let lease = Duration::from_millis(o.timeout_ms + 500);
    let mut open = None;
    let mut ticks = 0u64;
    let drained = loop {
        tokio::time::sleep(tick).await;
        // Counting open jobs reads every queue: once a second is plenty.
        ticks += 1;
        if ticks.is_multiple_of(5) {
            open = open_jobs(&producer).await;
            if open == Some(0) {
                break true;
            }
        }
        if started.elapsed() > o.deadline {
            break false;
        }
        let now = Instant::now();
        if next_kill.is_some_and(|t| now >= t) {
            let i = fleet.pick(dice.roll());
            eprintln!("torture: SIGKILL {}", fleet.nodes[i].name);
            faults.kills.push((fleet.nodes[i].name.clone(), now_us()));
            fleet.kill(i);
            fleet.spawn()?;
            next_kill = o.kill_every.map(|d| now + d);
        }
        if next_stop.is_some_and(|t| now >= t) {
            let i = fleet.pick(dice.roll());
            let (name, pid) = (fleet.nodes[i].name.clone(), fleet.nodes[i].child.id());
            eprintln!(
                "torture: SIGSTOP {name} for {} ms",
                lease.as_millis() + 1000
            );
            // The frozen span is taken inside the signals: from once SIGSTOP
            // has been delivered, to before SIGCONT is sent.
            signal(pid, "-STOP");
            let from = now_us();
            tokio::time::sleep(lease + Duration::from_secs(1)).await;
            let to = now_us();
            signal(pid, "-CONT");
            faults.stops.push((name, from, to));
            next_stop = o.stop_every.map(|d| Instant::now() + d);
        }
        // A node may not handle SIGTERM yet (just started, or stopped as it
        // started): only nodes that said they do are terminated.
        let settled: Vec<usize> = (0..fleet.nodes.len()).filter(|i| fleet.ready(*i)).collect();
        if next_term.is_some_and(|t| now >= t) && !settled.is_empty() {
            let i = settled[(dice.roll() % settled.len() as u64) as usize];
            let name = fleet.nodes[i].name.clone();
            let clean = fleet.terminate(i).await;
            let locks = producer
                .list_queues()
                .await
                .map(|qs| {
                    qs.iter()
                        .filter(|q| q.lock.as_ref().is_some_and(|l| l.node == name))
                        .count()
                })
                .unwrap_or(usize::MAX);
            eprintln!("torture: SIGTERM {name}: clean exit {clean}, locks left {locks}");
            faults.terms.push((name, clean, locks));
            fleet.spawn()?;
            next_term = o.term_every.map(|d| Instant::now() + d);
        }
        if !restarted && open.is_some_and(|n| (n as usize) < total * 2 / 3) {
            restarted = true;
            if let Some((stop, start)) = restart_commands(&o) {
                eprintln!("torture: restarting the database server");
                let from = now_us();
                let run = |cmd: &str| {
                    Command::new("sh")
                        .args(["-c", cmd])
                        .status()
                        .is_ok_and(|s| s.success())
                };
                let ok = run(&stop) && run(&start);
                faults.restarts.push((from, now_us(), ok));
                eprintln!("torture: database restarted ({ok})");
            }
        }
    };
    let elapsed = started.elapsed();
    // Every node stops cleanly and leaves no lock.
    while !fleet.nodes.is_empty() {
        let name = fleet.nodes[0].name.clone();
        // A node started just now is given the time to say it is ready.
        let deadline = Instant::now() + Duration::from_secs(20);
        while !fleet.ready(0) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let clean = fleet.terminate(0).await;
        if !clean {
            eprintln!("torture: {name} did not stop cleanly");
        }
    }
    let report = check::run(
        &producer,
        &ledger,
        &scope,
        &o,
        check::Run {
            total,
            drained,
            elapsed,
            faults,
            lives: fleet.lives,
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    if !report.ok {
        eprintln!("torture: node logs are in {}", log_dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&log_dir);
    }
    if report.ok
        && o.backend == Backend::Sqlite
        && let Some(path) = o.url.strip_prefix("sqlite://")
    {
        {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{path}{suffix}"));
            }
        }
    }
    Ok(report.ok)
}
