//! A node: one process running a scheduler whose performer writes every
//! execution to the ledger. Started by the coordinator as
//! `queuetopia-torture node BACKEND URL SCOPE NAME FAIL_RATE JOB_MS`; stops
//! cleanly on SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use queuetopia::{Event, Job, JobError, Performer, Queuetopia};

use crate::args::Backend;
use crate::ledger::{Ledger, now_us};

struct LedgerPerformer {
    ledger: Arc<Ledger>,
    scope: String,
    node: String,
    fail_rate: f64,
    job_ms: u64,
}

/// Tries a ledger write until it succeeds or 15 s have passed (the database
/// may be restarting).
async fn retry<F, Fut>(mut write: F) -> Result<(), sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), sqlx::Error>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        match write().await {
            Ok(()) => return Ok(()),
            Err(e) if tokio::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether this attempt fails: a hash of the job and attempt, so that a
/// rerun of the same attempt decides the same.
fn fails(job: &Job, rate: f64) -> bool {
    let mut h = 0xcbf2_9ce4_8422_2325_u64;
    for b in job
        .id
        .to_le_bytes()
        .iter()
        .chain(job.attempts.to_le_bytes().iter())
    {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    (h % 10_000) as f64 / 10_000.0 < rate
}

/// Writes the end of an execution that was cancelled (a timeout, a lost
/// lease, a shutdown): the scheduler dropped the performer's future.
struct Cancelled {
    ledger: Arc<Ledger>,
    scope: String,
    node: String,
    queue: String,
    job_id: i64,
    attempt: i64,
    started_at: i64,
    armed: bool,
}

impl Drop for Cancelled {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let at = now_us();
        let ledger = self.ledger.clone();
        let (scope, node, queue) = (self.scope.clone(), self.node.clone(), self.queue.clone());
        let (job_id, attempt, started_at) = (self.job_id, self.attempt, self.started_at);
        tokio::spawn(async move {
            // One write, whether the start row is there or not (its insert
            // may have been cut off in flight, and land later or never).
            for _ in 0..100 {
                let written = ledger
                    .cancelled(&scope, job_id, attempt, &queue, &node, started_at, at)
                    .await;
                if written.is_ok() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }
}

impl Performer for LedgerPerformer {
    async fn perform(&self, job: &Job) -> Result<(), JobError> {
        let attempt = i64::from(job.attempts);
        let start = now_us();
        // Armed before the start is written: a cancellation during that
        // write still ends the execution in the ledger.
        let mut guard = Cancelled {
            ledger: self.ledger.clone(),
            scope: self.scope.clone(),
            node: self.node.clone(),
            queue: job.queue.clone(),
            job_id: job.id,
            attempt,
            started_at: start,
            armed: true,
        };
        retry(|| {
            self.ledger
                .start(&self.scope, job.id, attempt, &job.queue, &self.node, start)
        })
        .await?;
        tokio::time::sleep(Duration::from_millis(self.job_ms)).await;
        let failed = fails(job, self.fail_rate);
        let outcome = if failed { "fail" } else { "ok" };
        let end = now_us();
        retry(|| async {
            self.ledger
                .end(&self.scope, job.id, attempt, &self.node, end, outcome)
                .await
                .map(drop)
        })
        .await?;
        guard.armed = false;
        if failed {
            return Err(JobError::new("planned failure"));
        }
        Ok(())
    }

    fn backoff(&self, _job: &Job) -> Duration {
        Duration::from_millis(50)
    }
}

/// Connects and starts the scheduler.
async fn start(
    backend: Backend,
    url: &str,
    scope: &str,
    name: &str,
    fail_rate: f64,
    job_ms: u64,
) -> queuetopia::Result<(Queuetopia, Arc<Ledger>)> {
    let db = queuetopia::connect(url).await?;
    let ledger = Arc::new(Ledger::new(db.clone(), backend));
    let performer = LedgerPerformer {
        ledger: ledger.clone(),
        scope: scope.to_owned(),
        node: name.to_owned(),
        fail_rate,
        job_ms,
    };
    let q = Queuetopia::builder(db, performer)
        .scope(scope)
        .node(name)
        .poll_interval(Duration::from_secs(1))
        .lease_margin(Duration::from_millis(500))
        .max_concurrent_jobs(32)
        .start()
        .await?;
    Ok((q, ledger))
}

/// The first line of a node's log: it handles SIGTERM from then on.
pub(crate) const READY: &str = "torture: node ready";

pub(crate) async fn run(args: &[String]) -> Result<bool, String> {
    // First of all, so that a SIGTERM during start-up still stops cleanly.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    eprintln!("{READY}");
    let [backend, url, scope, name, fail_rate, job_ms] = args else {
        return Err("node: BACKEND URL SCOPE NAME FAIL_RATE JOB_MS".into());
    };
    let backend = match backend.as_str() {
        "postgres" => Backend::Postgres,
        "mysql" => Backend::MySql,
        _ => Backend::Sqlite,
    };
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .init();
    let fail_rate: f64 = fail_rate.parse().map_err(|e| format!("{e}"))?;
    let job_ms: u64 = job_ms.parse().map_err(|e| format!("{e}"))?;
    // A node started while the database server restarts waits for it, as a
    // supervised service would.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let (q, ledger) = loop {
        match start(backend, url, scope, name, fail_rate, job_ms).await {
            Ok(started) => break started,
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %e, "cannot start yet; trying again");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e.to_string()),
        }
    };
    // What the node learns of each result goes to the ledger too.
    let mut events = q.subscribe();
    let (scope2, name2) = (scope.clone(), name.clone());
    tokio::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                // Fell behind: the oldest events are gone, go on with the rest.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            };
            let (job_id, attempt, what) = match &event {
                Event::Succeeded { job } => (job.id, job.attempts, "done"),
                Event::Failed { job, .. } => (job.id, job.attempts, "failed"),
                Event::ResultRefused { job_id, attempt } => (*job_id, *attempt, "refused"),
                _ => continue,
            };
            let _ =
                retry(|| ledger.recorded(&scope2, job_id, i64::from(attempt), &name2, what)).await;
        }
    });
    // Stop on SIGTERM, or when the coordinator is gone (its children are
    // handed to another parent): an orphaned node would run on for ever.
    let parent = std::os::unix::process::parent_id();
    let orphaned = async {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if std::os::unix::process::parent_id() != parent {
                return;
            }
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = orphaned => {}
    }
    q.shutdown(Duration::from_secs(5))
        .await
        .map_err(|e| e.to_string())?;
    Ok(true)
}
