//! Leaves a database with a held queue, for trying the `queuetopia` command
//! line on: account 42's first mail has a bad address, fails its only
//! attempt, and holds the two mails behind it; account 7's mail goes out.
//!
//! ```sh
//! cargo run -p queuetopia --example held -- sqlite:///tmp/held.db
//! cargo run -p queuetopia-cli -- --database-url sqlite:///tmp/held.db queues
//! ```
//!
//! With `drain` after the URL, it runs the mailer until every queue is
//! empty, as the application's nodes would after an operator's fix.

use std::time::Duration;

use queuetopia::{
    Event, ExhaustionPolicy, Job, JobError, JobOptions, Performer, Queuetopia, Verdict,
};
use serde_json::json;

/// Sends (pretend) mails; refuses addresses without a domain.
struct Mailer;

impl Performer for Mailer {
    async fn perform(&self, job: &Job) -> Result<(), JobError> {
        let to = job.params["to"].as_str().unwrap_or("");
        match to.contains('@') {
            true => Ok(()),
            false => Err(JobError::new(format!("smtp: 553 bad address {to:?}"))),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .ok_or("usage: held DATABASE_URL (e.g. sqlite:///tmp/held.db)")?;
    let db = queuetopia::connect(&url).await?;
    db.migrate().await?;
    let q = Queuetopia::builder(db, Mailer)
        .node("mailer-1")
        .start()
        .await?;
    if std::env::args().nth(2).as_deref() == Some("drain") {
        while !q.list_queues().await?.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        q.shutdown(Duration::from_secs(5)).await?;
        println!("every queue drained");
        return Ok(());
    }
    let mut events = q.subscribe();
    let once = JobOptions::default()
        .max_attempts(1)
        .on_exhausted(ExhaustionPolicy::Hold);
    q.create_job("account:42", "send", json!({"to": "bob"}), once)
        .await?;
    for subject in ["invoice", "reminder"] {
        let params = json!({"to": "bob@example.com", "subject": subject});
        q.create_job("account:42", "send", params, JobOptions::default())
            .await?;
    }
    q.create_job(
        "account:7",
        "send",
        json!({"to": "ann@example.com"}),
        JobOptions::default(),
    )
    .await?;
    let (mut held, mut sent) = (false, 0);
    while !(held && sent == 1) {
        match events.recv().await? {
            Event::Failed {
                verdict: Verdict::Hold,
                ..
            } => held = true,
            Event::Succeeded { .. } => sent += 1,
            _ => {}
        }
    }
    q.shutdown(Duration::from_secs(5)).await?;
    println!("account:42 is held by its first mail; try `queuetopia queues` on {url}");
    Ok(())
}
