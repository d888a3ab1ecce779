//! The torture harness: runs Queuetopia on several operating-system processes
//! against a real database, injects faults (SIGKILL, SIGSTOP past the lease,
//! a database restart, SIGTERM), and checks from a ledger of every execution
//! that no queue ran two jobs at once, none ran out of order, none was lost,
//! and no node wrote a result after losing its lease.
//!
//! ```sh
//! cargo run --release -p queuetopia-torture -- --backend postgres --nodes 4 \
//!     --queues 100 --jobs-per-queue 20 --fail-rate 0.1 --kill-every 3 --stop-every 7 --restart-db
//! ```
//!
//! It prints a summary table (and with `--json` one JSON object) and exits 1
//! when an invariant is broken. `--help` lists every option.

mod args;
mod check;
mod coordinator;
mod ledger;
mod node;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let result = if args.first().map(String::as_str) == Some("node") {
        runtime.block_on(node::run(&args[1..]))
    } else {
        match args::Options::parse(&args) {
            Ok(Some(options)) => runtime.block_on(coordinator::run(options)),
            Ok(None) => {
                println!("{}", args::USAGE);
                return ExitCode::SUCCESS;
            }
            Err(e) => Err(e),
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("torture: {e}");
            ExitCode::from(2)
        }
    }
}
