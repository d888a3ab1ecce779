//! The main example: jobs in several queues, one of which fails twice before
//! it succeeds. It prints what happens — the failing queue blocks while the
//! others move on, retries come after a backoff — then a summary, and exits 0.
//!
//! Runs on an embedded SQLite file, with no setup:
//!
//! ```sh
//! cargo run -p queuetopia --example tour
//! ```
//!
//! Point it at PostgreSQL or MySQL/MariaDB with a URL (and the backend's
//! cargo feature):
//!
//! ```sh
//! cargo run -p queuetopia --features postgres --example tour -- postgres://postgres@127.0.0.1/test
//! cargo run -p queuetopia --features mysql --example tour -- mysql://root@127.0.0.1/test
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use queuetopia::{
    Event, Job, JobError, JobFilter, JobOptions, JobState, NewJob, Performer, Queuetopia, Verdict,
};
use serde_json::json;

/// Sends (pretend) mails. The mail server refuses account 7 twice.
struct Mailer;

impl Performer for Mailer {
    async fn perform(&self, job: &Job) -> Result<(), JobError> {
        let to = job.params["to"].as_str().unwrap_or("?");
        if job.queue == "account:7" && job.action == "send_welcome" && job.attempts <= 2 {
            return Err(JobError::new(format!("smtp: 451 try again later ({to})")));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(())
    }

    // Short backoffs, so that the example is quick (the default is 2 s, 3 s, 5 s, …).
    fn backoff(&self, job: &Job) -> Duration {
        Duration::from_millis(150 * u64::from(job.attempts))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1).unwrap_or_else(|| {
        let path = std::env::temp_dir().join(format!("queuetopia-tour-{}.db", std::process::id()));
        format!("sqlite://{}", path.display())
    });
    println!("database: {url}");
    let db = queuetopia::connect(&url).await?;
    db.migrate().await?;

    let mail = Queuetopia::builder(db, Mailer)
        .scope(format!("tour-{}", std::process::id()))
        .max_concurrent_jobs(10)
        .start()
        .await?;
    let mut events = mail.subscribe();
    let started = Instant::now();

    // Three mails per account, in order; account 7's first one will fail twice.
    let mut jobs = Vec::new();
    for account in [7, 8, 9] {
        for action in ["send_welcome", "send_tips", "send_survey"] {
            jobs.push(NewJob::new(
                format!("account:{account}"),
                action,
                json!({"to": format!("user{account}@example.com")}),
                JobOptions::default()
                    .timeout(Duration::from_secs(5))
                    .max_attempts(5),
            )?);
        }
    }
    let created = mail.create_jobs(jobs).await?;
    println!("created {} jobs in 3 queues\n", created.len());

    let mut done = 0;
    while done < created.len() {
        let event = tokio::time::timeout(Duration::from_secs(30), events.recv()).await??;
        let ms = started.elapsed().as_millis();
        match event {
            Event::Succeeded { job } => {
                done += 1;
                println!(
                    "{ms:>5} ms  {:<10} {:<13} done (attempt {})",
                    job.queue, job.action, job.attempts
                );
            }
            Event::Failed { job, verdict, .. } => {
                let next = match verdict {
                    Verdict::Retry => "retry after backoff; its queue is blocked",
                    Verdict::GiveUp => "given up; its queue moves on",
                    _ => "held for an operator",
                };
                println!(
                    "{ms:>5} ms  {:<10} {:<13} FAILED (attempt {}): {} -> {next}",
                    job.queue,
                    job.action,
                    job.attempts,
                    job.error.as_deref().unwrap_or("")
                );
            }
            _ => {}
        }
    }

    println!("\nsummary:");
    let page = mail
        .list_jobs(&JobFilter::default().oldest_first().limit(100))
        .await?;
    let mut per_queue: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in &page.jobs {
        per_queue
            .entry(entry.job.queue.clone())
            .or_default()
            .push(format!(
                "{} ({} attempts)",
                entry.job.action, entry.job.attempts
            ));
    }
    for (queue, actions) in &per_queue {
        println!("  {queue:<10} ran in order: {}", actions.join(", "));
    }
    let all_done = page.jobs.iter().all(|e| e.state == JobState::Done);
    println!(
        "  {} jobs, all done: {all_done}, {} ms",
        page.jobs.len(),
        started.elapsed().as_millis()
    );
    mail.shutdown(Duration::from_secs(5)).await?;
    if let Some(path) = url.strip_prefix("sqlite://") {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
    }
    if !all_done {
        return Err("some jobs did not finish".into());
    }
    Ok(())
}
