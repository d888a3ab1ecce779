//! The harness's options.

use std::time::Duration;

pub(crate) const USAGE: &str = "\
queuetopia-torture [options]

  --backend postgres|mysql|sqlite   database (default postgres)
  --url URL                         its URL (default: this machine's test database;
                                    sqlite: a file in the temp directory)
  --nodes N                         node processes (default 3)
  --queues N                        queues (default 50)
  --jobs-per-queue N                jobs in each queue (default 20)
  --fail-rate F                     share of attempts that fail, 0 to 1 (default 0.1)
  --max-attempts N                  attempts before a job is given up (default 3)
  --job-ms N                        how long an attempt works, in ms (default 5)
  --timeout-ms N                    a job's timeout, in ms (default 2000)
  --kill-every S                    SIGKILL a random node every S seconds and start
                                    a replacement (default 0: never)
  --stop-every S                    SIGSTOP a random node past its lease every S
                                    seconds, then SIGCONT it (default 0: never)
  --term-every S                    SIGTERM a random node every S seconds, check it
                                    left no lock, start a replacement (default 0)
  --restart-db                      restart the database server once, a third of
                                    the way through (PostgreSQL and MariaDB)
  --stop-command CMD                the shell command that stops the server
                                    (default: scripts/services stop BACKEND, run
                                    from the workspace root)
  --start-command CMD               the shell command that starts it again and
                                    waits until it answers (default: scripts/services)
  --deadline S                      give up after S seconds (default 300)
  --pickup N                        instead of the run above: measure cross-node
                                    pickup latency over N jobs, each created by
                                    this process and run by a node process
  --json                            print the report as one JSON object too
";

/// Which database the run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Postgres,
    MySql,
    Sqlite,
}

impl Backend {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::MySql => "mysql",
            Backend::Sqlite => "sqlite",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) backend: Backend,
    pub(crate) url: String,
    pub(crate) nodes: usize,
    pub(crate) queues: usize,
    pub(crate) jobs_per_queue: usize,
    pub(crate) fail_rate: f64,
    pub(crate) max_attempts: u32,
    pub(crate) job_ms: u64,
    pub(crate) timeout_ms: u64,
    pub(crate) kill_every: Option<Duration>,
    pub(crate) stop_every: Option<Duration>,
    pub(crate) term_every: Option<Duration>,
    pub(crate) restart_db: bool,
    pub(crate) stop_command: Option<String>,
    pub(crate) start_command: Option<String>,
    pub(crate) deadline: Duration,
    pub(crate) json: bool,
    pub(crate) pickup: usize,
}

impl Options {
    /// `Ok(None)` for `--help`.
    pub(crate) fn parse(args: &[String]) -> Result<Option<Options>, String> {
        let mut o = Options {
            backend: Backend::Postgres,
            url: String::new(),
            nodes: 3,
            queues: 50,
            jobs_per_queue: 20,
            fail_rate: 0.1,
            max_attempts: 3,
            job_ms: 5,
            timeout_ms: 2000,
            kill_every: None,
            stop_every: None,
            term_every: None,
            restart_db: false,
            stop_command: None,
            start_command: None,
            deadline: Duration::from_secs(300),
            json: false,
            pickup: 0,
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            let secs = |v: String| -> Result<Option<Duration>, String> {
                let s: f64 = v.parse().map_err(|e| format!("{flag}: {e}"))?;
                Ok((s > 0.0).then(|| Duration::from_secs_f64(s)))
            };
            match flag.as_str() {
                "--help" | "-h" => return Ok(None),
                "--backend" => {
                    o.backend = match value()?.as_str() {
                        "postgres" => Backend::Postgres,
                        "mysql" | "mariadb" => Backend::MySql,
                        "sqlite" => Backend::Sqlite,
                        other => return Err(format!("unknown backend {other}")),
                    }
                }
                "--url" => o.url = value()?,
                "--nodes" => o.nodes = number(flag, value()?)?,
                "--queues" => o.queues = number(flag, value()?)?,
                "--jobs-per-queue" => o.jobs_per_queue = number(flag, value()?)?,
                "--fail-rate" => {
                    o.fail_rate = value()?.parse().map_err(|e| format!("{flag}: {e}"))?
                }
                "--max-attempts" => o.max_attempts = number(flag, value()?)?,
                "--job-ms" => o.job_ms = number(flag, value()?)?,
                "--timeout-ms" => o.timeout_ms = number(flag, value()?)?,
                "--kill-every" => o.kill_every = secs(value()?)?,
                "--stop-every" => o.stop_every = secs(value()?)?,
                "--term-every" => o.term_every = secs(value()?)?,
                "--restart-db" => o.restart_db = true,
                "--stop-command" => o.stop_command = Some(value()?),
                "--start-command" => o.start_command = Some(value()?),
                "--deadline" => o.deadline = secs(value()?)?.unwrap_or(o.deadline),
                "--json" => o.json = true,
                "--pickup" => o.pickup = number(flag, value()?)?,
                other => return Err(format!("unknown option {other} (see --help)")),
            }
        }
        if o.nodes == 0 || o.queues == 0 || o.jobs_per_queue == 0 {
            return Err("--nodes, --queues and --jobs-per-queue must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&o.fail_rate) {
            return Err("--fail-rate must be between 0 and 1".into());
        }
        if o.url.is_empty() {
            o.url = match o.backend {
                Backend::Postgres => "postgres://postgres@127.0.0.1:5432/test".into(),
                Backend::MySql => "mysql://root@127.0.0.1:3306/test".into(),
                Backend::Sqlite => format!(
                    "sqlite://{}",
                    std::env::temp_dir()
                        .join(format!("queuetopia-torture-{}.db", std::process::id()))
                        .display()
                ),
            };
        }
        Ok(Some(o))
    }
}

fn number<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    v.parse().map_err(|e| format!("{flag}: {e}"))
}
