//! A scheduler process of the `nodes` scenario, started by the benchmark as
//! `queuetopia-bench node URL SCOPE NAME`. It connects, says `ready`, starts
//! its scheduler when it reads `go`, and stops at the end of its input.

use std::time::Duration;

use queuetopia::Queuetopia;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::scenarios::{Counting, FANOUT_CONCURRENCY};

pub(crate) async fn run(args: &[String]) -> Result<(), String> {
    let [url, scope, name] = args else {
        return Err("node: URL SCOPE NAME".into());
    };
    let db = queuetopia::connect(url).await.map_err(|e| e.to_string())?;
    // Connected and checked before the clock starts.
    db.schema_version().await.map_err(|e| e.to_string())?;
    let builder = Queuetopia::builder(db, Counting::default())
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
