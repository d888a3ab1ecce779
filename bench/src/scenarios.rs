//! The scenarios. Each starts from a clean scope of its own and removes its
//! rows when done; performers return at once unless the scenario says
//! otherwise.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use queuetopia::{Builder, Db, Event, Job, JobError, JobOptions, NewJob, Performer, Queuetopia};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{Notify, oneshot};

use crate::report::{Against, Row, print_table};
use crate::{Options, limit, seed};

/// The concurrency of `fanout` (and so N of `limit_n`).
pub(crate) const FANOUT_CONCURRENCY: u32 = 10;
/// Scheduler processes of `nodes`.
const NODES: usize = 4;
/// The backoff of `blocked`'s failing heads. Each failing attempt is a
/// durable commit, so 100 such queues cost 100 commits per second of the
/// database's capacity whatever the scheduler does.
const FAILING_BACKOFF: Duration = Duration::from_secs(1);
/// How long any drain may take before the run gives up.
const DRAIN_DEADLINE: Duration = Duration::from_secs(1800);

/// Counts finished attempts and tells when a target is reached; remembers
/// when an attempt started, for the latency scenario.
#[derive(Default)]
pub(crate) struct Tally {
    done: AtomicU64,
    target: AtomicU64,
    reached: Notify,
    started: Mutex<Option<oneshot::Sender<Instant>>>,
}

impl Tally {
    /// Attempts that succeeded since the start.
    pub(crate) fn done(&self) -> u64 {
        self.done.load(Ordering::SeqCst)
    }

    /// Waits until `target` attempts have succeeded since the start.
    pub(crate) async fn wait_for(&self, target: u64) -> Result<(), String> {
        self.target.store(target, Ordering::SeqCst);
        tokio::time::timeout(DRAIN_DEADLINE, async {
            while self.done.load(Ordering::SeqCst) < target {
                self.reached.notified().await;
            }
        })
        .await
        .map_err(|_| format!("not drained after {DRAIN_DEADLINE:?}"))
    }
}

/// The benchmark's performer: returns at once; jobs whose action is `fail`
/// always fail, and are tried again after [`FAILING_BACKOFF`].
#[derive(Clone, Default)]
pub(crate) struct Counting(pub(crate) Arc<Tally>);

impl Performer for Counting {
    async fn perform(&self, job: &Job) -> Result<(), JobError> {
        if job.action == "fail" {
            return Err(JobError::new("this head always fails"));
        }
        if let Some(started) = self.0.started.lock().ok().and_then(|mut s| s.take()) {
            let _ = started.send(Instant::now());
        }
        let n = self.0.done.fetch_add(1, Ordering::SeqCst) + 1;
        if n >= self.0.target.load(Ordering::SeqCst) {
            self.0.reached.notify_one();
        }
        Ok(())
    }

    fn backoff(&self, _job: &Job) -> Duration {
        FAILING_BACKOFF
    }
}

struct Ctx {
    o: Options,
    db: Db,
    limit_1: f64,
    limit_n: f64,
    fanout: Option<f64>,
}

impl Ctx {
    fn n(&self, jobs: u64) -> u64 {
        ((jobs as f64 * self.o.scale).round() as u64).max(1)
    }

    /// A scope of its own, empty, in tables without dead rows.
    async fn scope(&self, name: &str) -> Result<String, String> {
        let scope = format!("bench-{name}-{}", std::process::id());
        seed::forget(&self.db, &scope).await?;
        seed::settle(&self.db).await?;
        Ok(scope)
    }

    fn node(&self, scope: &str, tally: &Arc<Tally>) -> Builder {
        Queuetopia::builder(self.db.clone(), Counting(tally.clone()))
            .scope(scope)
            .poll_interval(Duration::from_secs(60))
    }

    fn producer(&self, scope: &str) -> Builder {
        Queuetopia::producer(self.db.clone()).scope(scope)
    }

    fn against(&self, name: &str, per_sec: f64, target: f64) -> Option<Against> {
        Some(Against {
            name: name.to_owned(),
            per_sec,
            target: Some(target),
        })
    }

    fn against_fanout(&self, target: f64) -> Option<Against> {
        self.fanout.and_then(|f| self.against("fanout", f, target))
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Creates `jobs` in batches of 1,000.
async fn create(q: &Queuetopia, jobs: Vec<NewJob>) -> Result<(), String> {
    let mut jobs = jobs.into_iter().peekable();
    while jobs.peek().is_some() {
        let batch: Vec<NewJob> = jobs.by_ref().take(1000).collect();
        q.create_jobs(batch).await.map_err(err)?;
    }
    Ok(())
}

fn job(queue: String, action: &str) -> Result<NewJob, String> {
    NewJob::new(queue, action, json!({}), JobOptions::default()).map_err(err)
}

/// `per_queue` jobs in each of `queues` queues named `{prefix}{k}`, created
/// round robin over the queues.
fn spread(prefix: &str, queues: u64, per_queue: u64) -> Result<Vec<NewJob>, String> {
    (0..queues * per_queue)
        .map(|i| job(format!("{prefix}{}", i % queues), "work"))
        .collect()
}

/// Starts the scheduler `b`, waits until `target` attempts succeeded, stops
/// it; returns the seconds from start to drained.
async fn drain(b: Builder, tally: &Tally, target: u64) -> Result<(f64, String), String> {
    let started = Instant::now();
    let q = b.start().await.map_err(err)?;
    tally.wait_for(target).await?;
    let seconds = started.elapsed().as_secs_f64();
    let stats = q.stats();
    q.shutdown(Duration::from_secs(10)).await.map_err(err)?;
    let per_commit = stats.results as f64 / stats.result_commits.max(1) as f64;
    Ok((
        seconds,
        format!(
            "{per_commit:.1} results per commit; {} claims",
            stats.claims
        ),
    ))
}

pub(crate) async fn run_all(mut o: Options) -> Result<(), String> {
    // wide, blocked and nodes are held against fanout's figure.
    if o.scenarios
        .iter()
        .any(|s| ["wide", "blocked", "nodes"].contains(&s.as_str()))
        && !o.scenarios.iter().any(|s| s == "fanout")
    {
        o.scenarios.insert(0, "fanout".to_owned());
    }
    let db = queuetopia::connect(&o.url).await.map_err(err)?;
    db.migrate().await.map_err(err)?;
    eprintln!(
        "bench: measuring the database's limit ({} s each)",
        o.limit_secs
    );
    let limit_1 = limit::commits_per_sec(&db, 1, o.limit_secs).await?;
    let limit_n = limit::commits_per_sec(&db, FANOUT_CONCURRENCY as usize, o.limit_secs).await?;
    let mut ctx = Ctx {
        o: o.clone(),
        db,
        limit_1,
        limit_n,
        fanout: None,
    };
    let mut rows = Vec::new();
    for name in &o.scenarios {
        eprintln!("bench: {name}");
        let new = match name.as_str() {
            "serial" => vec![serial(&ctx).await?],
            "fanout" => {
                let row = fanout(&ctx, "fanout", 0).await?;
                ctx.fanout = Some(row.jobs_per_sec());
                vec![row]
            }
            "wide" => vec![wide(&ctx).await?],
            "blocked" => vec![fanout(&ctx, "blocked", ctx.n(100)).await?],
            "enqueue" => enqueue(&ctx).await?,
            "latency" => vec![latency(&ctx).await?],
            "nodes" => vec![nodes(&ctx).await?],
            other => return Err(format!("unknown scenario {other:?}")),
        };
        for row in &new {
            if o.json {
                println!("{}", row.json(ctx.db.backend().name()));
            }
        }
        rows.extend(new);
    }
    let n = format!("limit_{FANOUT_CONCURRENCY}");
    print_table(
        ctx.db.backend().name(),
        &[("limit_1".to_owned(), ctx.limit_1), (n, ctx.limit_n)],
        &rows,
    );
    if o.json {
        println!(
            "{}",
            json!({"scenario": "limits", "backend": ctx.db.backend().name(),
                   "limit_1": ctx.limit_1, "limit_n": ctx.limit_n, "n": FANOUT_CONCURRENCY})
        );
    }
    Ok(())
}

/// One queue, its jobs already created: each job must be finished before
/// the next starts, so one commit per job is the floor.
async fn serial(ctx: &Ctx) -> Result<Row, String> {
    let scope = ctx.scope("serial").await?;
    let n = ctx.n(5000);
    let producer = ctx.producer(&scope).build().await.map_err(err)?;
    create(&producer, spread("q", 1, n)?).await?;
    let tally = Arc::new(Tally::default());
    let (seconds, batching) = drain(ctx.node(&scope, &tally), &tally, n).await?;
    seed::forget(&ctx.db, &scope).await?;
    Ok(Row {
        scenario: "serial".into(),
        jobs: n,
        seconds,
        against: ctx.against("limit_1", ctx.limit_1, 0.8),
        note: Some(batching),
        ..Row::default()
    })
}

/// 200 queues × 50 jobs, 10 at once; with `failing` more queues whose head
/// always fails (the `blocked` scenario: only the healthy jobs count).
async fn fanout(ctx: &Ctx, name: &str, failing: u64) -> Result<Row, String> {
    let scope = ctx.scope(name).await?;
    let (queues, per_queue) = (ctx.n(200), 50);
    let producer = ctx.producer(&scope).build().await.map_err(err)?;
    if failing > 0 {
        let heads: Vec<NewJob> = (0..failing)
            .map(|k| {
                NewJob::new(
                    format!("bad{k}"),
                    "fail",
                    json!({}),
                    JobOptions::default().max_attempts(i32::MAX as u32),
                )
                .map_err(err)
            })
            .collect::<Result<_, _>>()?;
        create(&producer, heads).await?;
        create(&producer, spread("bad", failing, 1)?).await?;
    }
    create(&producer, spread("q", queues, per_queue)?).await?;
    let n = queues * per_queue;
    let tally = Arc::new(Tally::default());
    let b = ctx
        .node(&scope, &tally)
        .max_concurrent_jobs(FANOUT_CONCURRENCY);
    let (seconds, batching) = drain(b, &tally, n).await?;
    seed::forget(&ctx.db, &scope).await?;
    let against = if failing > 0 {
        ctx.against_fanout(0.9)
    } else if ctx.db.backend() == queuetopia::Backend::Sqlite {
        // One writer at a time: the issue holds SQLite's fanout against
        // its own limit_1.
        ctx.against("limit_1", ctx.limit_1, 0.8)
    } else {
        ctx.against(&format!("limit_{FANOUT_CONCURRENCY}"), ctx.limit_n, 1.5)
    };
    Ok(Row {
        scenario: name.into(),
        jobs: n,
        seconds,
        against,
        note: Some(if failing > 0 {
            format!(
                "{failing} queues blocked by a head failing every {FAILING_BACKOFF:?}; {batching}"
            )
        } else {
            batching
        }),
        ..Row::default()
    })
}

/// 10,000 queues × 1 job, with 200,000 done jobs in the table; the peak RSS
/// of this process while its scheduler drains them.
async fn wide(ctx: &Ctx) -> Result<Row, String> {
    let scope = ctx.scope("wide").await?;
    let queues = ctx.n(10_000);
    seed::done_jobs(&ctx.db, &scope, ctx.n(200_000), queues).await?;
    let producer = ctx.producer(&scope).build().await.map_err(err)?;
    create(&producer, spread("q", queues, 1)?).await?;
    let tally = Arc::new(Tally::default());
    let b = ctx
        .node(&scope, &tally)
        .max_concurrent_jobs(FANOUT_CONCURRENCY);
    let peak = PeakRss::start();
    let (seconds, batching) = drain(b, &tally, queues).await?;
    let rss = peak.read();
    seed::forget(&ctx.db, &scope).await?;
    Ok(Row {
        scenario: "wide".into(),
        jobs: queues,
        seconds,
        against: ctx.against_fanout(0.8),
        rss_peak_mib: rss,
        note: Some(format!(
            "{} done jobs in the table; {batching}",
            ctx.n(200_000)
        )),
        ..Row::default()
    })
}

/// The highest resident set size of this process from `start` to `read`:
/// the kernel's own high-water mark, reset at the start (or, where it
/// cannot be reset, samples every 5 ms).
struct PeakRss {
    reset: bool,
    sampled: Arc<AtomicU64>,
    sampler: tokio::task::JoinHandle<()>,
}

impl PeakRss {
    fn start() -> Self {
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let sampled = Arc::new(AtomicU64::new(0));
        let s = sampled.clone();
        let sampler = tokio::spawn(async move {
            loop {
                if let Some(kib) = status_kib("VmRSS:") {
                    s.fetch_max(kib, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        PeakRss {
            reset,
            sampled,
            sampler,
        }
    }

    fn read(self) -> Option<f64> {
        self.sampler.abort();
        let kib = if self.reset {
            status_kib("VmHWM:")?
        } else {
            self.sampled.load(Ordering::Relaxed)
        };
        Some(kib as f64 / 1024.0)
    }
}

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Creations with no scheduler running: one at a time from one task, then
/// in batches of 1,000. On PostgreSQL also into a new queue each, where
/// every commit notifies, with and without notifications, from one task and
/// from eight (PostgreSQL serialises the commits that notify).
async fn enqueue(ctx: &Ctx) -> Result<Vec<Row>, String> {
    struct Variant {
        name: &'static str,
        /// Queues the creations go round; `None`: a new queue each.
        queues: Option<u64>,
        notify: bool,
        tasks: u64,
    }
    let v = |name, queues, notify, tasks| Variant {
        name,
        queues,
        notify,
        tasks,
    };
    let mut variants = vec![v("enqueue_single", Some(100), true, 1)];
    if ctx.db.capabilities().notifications {
        variants.push(v("enqueue_single_notify_each", None, true, 1));
        variants.push(v("enqueue_single_no_notify", None, false, 1));
        variants.push(v("enqueue_8_tasks_notify_each", None, true, 8));
        variants.push(v("enqueue_8_tasks_no_notify", None, false, 8));
    }
    let single = ctx.n(20_000);
    let mut rows = Vec::new();
    for variant in variants {
        let scope = ctx.scope(variant.name).await?;
        let q = ctx
            .producer(&scope)
            .notifications(variant.notify)
            .build()
            .await
            .map_err(err)?;
        let per_task = single.div_ceil(variant.tasks);
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for t in 0..variant.tasks {
            let (q, queues) = (q.clone(), variant.queues);
            tasks.spawn(async move {
                for i in 0..per_task {
                    let queue = match queues {
                        Some(n) => format!("q{}", i % n),
                        None => format!("q{t}-{i}"),
                    };
                    q.create_job(queue, "work", json!({}), JobOptions::default())
                        .await
                        .map_err(err)?;
                }
                Ok::<_, String>(())
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.map_err(err)??;
        }
        let seconds = started.elapsed().as_secs_f64();
        seed::forget(&ctx.db, &scope).await?;
        let queues = match variant.queues {
            Some(n) => format!("into {n} queues"),
            None => "a new queue each".to_owned(),
        };
        let notify = if variant.notify { "on" } else { "off" };
        rows.push(Row {
            scenario: variant.name.into(),
            jobs: per_task * variant.tasks,
            seconds,
            against: (variant.tasks == 1)
                .then(|| ctx.against("limit_1", ctx.limit_1, 0.8))
                .flatten(),
            note: Some(format!(
                "{queues}, {} task(s), notifications {notify}",
                variant.tasks
            )),
            ..Row::default()
        });
    }
    let scope = ctx.scope("enqueue_batched").await?;
    let q = ctx.producer(&scope).build().await.map_err(err)?;
    let n = ctx.n(200_000);
    let jobs = spread("q", 100, n.div_ceil(100))?;
    let n = jobs.len() as u64;
    let started = Instant::now();
    create(&q, jobs).await?;
    let seconds = started.elapsed().as_secs_f64();
    seed::forget(&ctx.db, &scope).await?;
    // The same number of rows as plain inserts, in a table as clean.
    let bare_scope = ctx.scope("bare_insert").await?;
    let bare = seed::bare_inserts(&ctx.db, &bare_scope, n, 100, 1_000).await?;
    seed::forget(&ctx.db, &bare_scope).await?;
    rows.push(Row {
        scenario: "enqueue_batched".into(),
        jobs: n,
        seconds,
        against: Some(Against {
            name: "bare_insert".into(),
            per_sec: bare,
            target: None,
        }),
        note: Some(
            "batches of 1,000 into 100 queues; target 100,000 jobs/s; bare_insert: \
             INSERT … SELECT of 1,000 rows the server makes, a commit each"
                .into(),
        ),
        ..Row::default()
    });
    Ok(rows)
}

/// One job at a time, created while the scheduler idles: from the call to
/// create it to the start of its attempt, on the same node.
async fn latency(ctx: &Ctx) -> Result<Row, String> {
    let scope = ctx.scope("latency").await?;
    let n = ctx.n(500).max(10);
    let tally = Arc::new(Tally::default());
    let q = ctx.node(&scope, &tally).start().await.map_err(err)?;
    let mut events = q.subscribe();
    let mut samples = Vec::with_capacity(n as usize);
    let started = Instant::now();
    for _ in 0..n {
        let (tx, rx) = oneshot::channel();
        *tally.started.lock().map_err(err)? = Some(tx);
        let created_at = Instant::now();
        let job = q
            .create_job("lat", "work", json!({}), JobOptions::default())
            .await
            .map_err(err)?;
        let began = tokio::time::timeout(Duration::from_secs(30), rx)
            .await
            .map_err(|_| "a job did not start within 30 s".to_owned())?
            .map_err(err)?;
        samples.push(began.duration_since(created_at).as_secs_f64() * 1000.0);
        // Idle again: the job's result is written.
        loop {
            match events.recv().await {
                Ok(Event::Succeeded { job: done }) if done.id == job.id => break,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    q.shutdown(Duration::from_secs(10)).await.map_err(err)?;
    seed::forget(&ctx.db, &scope).await?;
    samples.sort_by(f64::total_cmp);
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    Ok(Row {
        scenario: "latency".into(),
        jobs: n,
        seconds,
        latency_ms: Some([at(0.5), at(0.99), at(1.0)]),
        note: Some("create → perform start; targets p50 ≤ 2 ms, p99 ≤ 20 ms".into()),
        ..Row::default()
    })
}

/// `fanout` drained by four scheduler processes.
async fn nodes(ctx: &Ctx) -> Result<Row, String> {
    let scope = ctx.scope("nodes").await?;
    let (queues, per_queue) = (ctx.n(200), 50);
    let producer = ctx.producer(&scope).build().await.map_err(err)?;
    create(&producer, spread("q", queues, per_queue)?).await?;
    let n = queues * per_queue;
    let exe = std::env::current_exe().map_err(err)?;
    let mut children = Vec::new();
    // Each node's count of succeeded attempts, as it prints them.
    let (report, mut counts) = tokio::sync::mpsc::unbounded_channel();
    for k in 0..NODES {
        let mut child = tokio::process::Command::new(&exe)
            .args(["node", &ctx.o.url, &scope, &format!("node-{k}")])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start a node: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        match lines.next_line().await.map_err(err)? {
            Some(line) if line == "ready" => {}
            other => return Err(format!("node-{k} did not get ready: {other:?}")),
        }
        let report = report.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(count) = line.strip_prefix("done ").and_then(|c| c.parse().ok())
                    && report.send((k, count)).is_err()
                {
                    break;
                }
            }
        });
        children.push(child);
    }
    // The nodes' readers hold the only senders now: all gone, all ended.
    drop(report);
    // All connected: go.
    let started = Instant::now();
    for child in &mut children {
        let stdin = child.stdin.as_mut().ok_or("no stdin")?;
        stdin.write_all(b"go\n").await.map_err(err)?;
        stdin.flush().await.map_err(err)?;
    }
    // Drained when the nodes' counts of succeeded attempts add up, as
    // fanout's are counted (the database is not polled meanwhile: on two
    // cores that would slow the nodes down).
    let mut done = [0u64; NODES];
    while done.iter().sum::<u64>() < n {
        let left = DRAIN_DEADLINE.saturating_sub(started.elapsed());
        let (k, count) = tokio::time::timeout(left, counts.recv())
            .await
            .map_err(|_| "nodes: not drained")?
            .ok_or("nodes: a node ended before the drain")?;
        done[k] = count;
    }
    let seconds = started.elapsed().as_secs_f64();
    for mut child in children {
        // End of input: the node shuts down, writing its last results.
        drop(child.stdin.take());
        let _ = tokio::time::timeout(Duration::from_secs(20), child.wait()).await;
    }
    seed::forget(&ctx.db, &scope).await?;
    Ok(Row {
        scenario: "nodes".into(),
        jobs: n,
        seconds,
        against: ctx.against_fanout(0.9),
        note: Some(format!(
            "{NODES} processes × max_concurrent_jobs {FANOUT_CONCURRENCY}"
        )),
        ..Row::default()
    })
}
