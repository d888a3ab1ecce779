//! A scheduler process of the `nodes` scenario, started by the benchmark as
//! `queuetopia-bench node URL SCOPE NAME`. It connects, says `ready`, starts
//! its scheduler when it reads `go`, prints `done N` whenever its count of
//! succeeded attempts has grown (several at once under load), and stops at
//! the end of its input.

use std::sync::Arc;
use std::time::Duration;

use queuetopia::Queuetopia;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::scenarios::{Counting, FANOUT_CONCURRENCY, Tally};

pub(crate) async fn run(args: &[String]) -> Result<(), String> {
    let [url, scope, name] = args else {
        return Err("node: URL SCOPE NAME".into());
    };
    let db = queuetopia::connect(url).await.map_err(|e| e.to_string())?;
    // Connected and checked before the clock starts.
    db.schema_version().await.map_err(|e| e.to_string())?;
    let tally = Arc::new(Tally::default());
    let builder = Queuetopia::builder(db, Counting(tally.clone()))
        .scope(scope.clone())
        .node(name.clone())
        .poll_interval(Duration::from_secs(1))
        .max_concurrent_jobs(FANOUT_CONCURRENCY);
    println!("ready");
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    match lines.next_line().await.map_err(|e| e.to_string())? {
        Some(line) if line == "go" => {}
        _ => return Ok(()),
    }
    let q = builder.start().await.map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let mut told = 0;
        while tally.wait_for(told + 1).await.is_ok() {
            told = tally.done();
            println!("done {told}");
        }
    });
    while lines
        .next_line()
        .await
        .map_err(|e| e.to_string())?
        .is_some()
    {}
    q.shutdown(Duration::from_secs(10))
        .await
        .map_err(|e| e.to_string())
}
