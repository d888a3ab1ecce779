//! The benchmark: Queuetopia's throughput and latency on the work that
//! matters, printed beside the database's own limit measured in the same run
//! on the same connection pool (one-row UPDATE commits per second, by one
//! connection and by N together).
//!
//! ```sh
//! cargo run --release -p queuetopia-bench -- --backend postgres --scenario all
//! ```
//!
//! `--json` prints one JSON object per scenario; `--scale 0.01` shrinks every
//! scenario for a smoke run. `--help` lists every option.

mod limit;
mod node;
mod report;
mod scenarios;
mod seed;

use std::process::ExitCode;

pub(crate) const USAGE: &str = "\
queuetopia-bench [options]

  --backend postgres|mysql|sqlite   database (default postgres)
  --url URL                         its URL (default: this machine's test database;
                                    sqlite: a fresh file in the temp directory)
  --scenario NAME[,NAME…]|all       serial, fanout, wide, blocked, enqueue, latency,
                                    nodes (default all)
  --scale F                         multiply every scenario's job count by F
                                    (default 1; a smoke run uses 0.01)
  --limit-secs S                    how long each limit is measured (default 3)
  --json                            print one JSON object per scenario too
";

/// The URL of this machine's test database of `backend` (a fresh file in
/// the temp directory for SQLite).
fn default_url(backend: &str) -> Result<String, String> {
    match backend {
        "postgres" | "postgresql" => Ok("postgres://postgres@127.0.0.1:5432/test".to_owned()),
        "mysql" | "mariadb" => Ok("mysql://root@127.0.0.1:3306/test".to_owned()),
        "sqlite" => {
            let file =
                std::env::temp_dir().join(format!("queuetopia-bench-{}.db", std::process::id()));
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
            }
            Ok(format!("sqlite://{}", file.display()))
        }
        other => Err(format!("unknown backend {other:?}")),
    }
}

pub(crate) const SCENARIOS: &[&str] = &[
    "serial", "fanout", "wide", "blocked", "enqueue", "latency", "nodes",
];

#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) url: String,
    pub(crate) scenarios: Vec<String>,
    pub(crate) scale: f64,
    pub(crate) limit_secs: f64,
    pub(crate) json: bool,
}

impl Options {
    /// `None` when `--help` was asked for.
    fn parse(args: &[String]) -> Result<Option<Options>, String> {
        let mut backend = "postgres".to_owned();
        let mut url = None;
        let mut scenarios: Vec<String> = SCENARIOS.iter().map(|s| (*s).to_owned()).collect();
        let (mut scale, mut limit_secs, mut json) = (1.0, 3.0, false);
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{arg} needs a value"))
            };
            match arg.as_str() {
                "--backend" => backend = value()?,
                "--url" => url = Some(value()?),
                "--scenario" => {
                    let v = value()?;
                    if v != "all" {
                        scenarios = v.split(',').map(str::to_owned).collect();
                        if let Some(bad) =
                            scenarios.iter().find(|s| !SCENARIOS.contains(&s.as_str()))
                        {
                            return Err(format!("unknown scenario {bad:?}"));
                        }
                    }
                }
                "--scale" => scale = number(&value()?, "--scale")?,
                "--limit-secs" => limit_secs = number(&value()?, "--limit-secs")?,
                "--json" => json = true,
                "--help" | "-h" => return Ok(None),
                other => return Err(format!("unknown option {other:?} (see --help)")),
            }
        }
        Ok(Some(Options {
            url: match url {
                Some(url) => url,
                None => default_url(&backend)?,
            },
            scenarios,
            scale,
            limit_secs,
            json,
        }))
    }
}

fn number(s: &str, what: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("{what} must be a positive number, not {s:?}")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("bench: cannot start tokio: {e}");
            return ExitCode::from(2);
        }
    };
    let result = if args.first().map(String::as_str) == Some("node") {
        runtime.block_on(node::run(&args[1..]))
    } else {
        match Options::parse(&args) {
            Ok(Some(options)) => runtime.block_on(scenarios::run_all(options)),
            Ok(None) => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            Err(e) => Err(e),
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::from(2)
        }
    }
}
