//! The command line's words.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Operate Queuetopia job queues: find blocked queues, read their errors,
/// retry, skip, cancel, edit, pause and resume; migrate the schema.
#[derive(Debug, Parser)]
#[command(name = "queuetopia", version)]
pub(crate) struct Cli {
    /// The database: postgres://…, mysql://… or sqlite://path.
    #[arg(
        long,
        env = "DATABASE_URL",
        global = true,
        hide_env_values = true,
        default_value = ""
    )]
    pub(crate) database_url: String,
    /// The scope (the Queuetopia instance) to operate on.
    #[arg(long, global = true, default_value = "default")]
    pub(crate) scope: String,
    /// The schema the tables live in (PostgreSQL).
    #[arg(long, global = true)]
    pub(crate) schema: Option<String>,
    /// The tables' name prefix.
    #[arg(long, global = true)]
    pub(crate) table_prefix: Option<String>,
    /// Who acts, recorded in the audit (default: the OS user).
    #[arg(
        long,
        global = true,
        env = "USER",
        hide_env_values = true,
        default_value = "queuetopia-cli"
    )]
    pub(crate) actor: String,
    /// Why, recorded in the audit.
    #[arg(long, global = true)]
    pub(crate) reason: Option<String>,
    /// How long to try to reach the database, in seconds.
    #[arg(long, global = true, default_value_t = 10)]
    pub(crate) connect_timeout: u64,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Bring the schema up or down, or show where it is.
    Migrate {
        #[command(subcommand)]
        command: MigrateCommand,
    },
    /// Exit 0 when the database answers and its schema is the one this
    /// version needs, 1 otherwise.
    Health,
    /// The scope's queues, blocked and held first.
    Queues(QueueFilter),
    /// List or show jobs.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Let a failed, held or given-up job run again now (one more attempt
    /// if it used them all).
    Retry(Bulk),
    /// Give up a job that is neither done nor running, so its queue moves on.
    Skip(Bulk),
    /// Remove a job that never ran from its queue.
    Cancel(Bulk),
    /// Replace the params of a failed or held job (then retry it).
    Edit {
        /// The job.
        id: i64,
        /// The new params, a JSON object.
        #[arg(long)]
        params: String,
        /// Say what would happen; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Stop a queue: no attempt of it starts until it is resumed.
    Pause {
        /// The queue.
        queue: String,
        /// Say what would happen; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Let a paused queue run again.
    Resume {
        /// The queue.
        queue: String,
        /// Say what would happen; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// The operator actions taken on the scope, newest first.
    Audit {
        /// Only the entries of this job.
        #[arg(long)]
        job: Option<i64>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// The cursor printed at the end of the previous page.
        #[arg(long)]
        after: Option<i64>,
    },
    /// Delete old done jobs, old audit entries and the rows of empty queues.
    Cleanup {
        /// Done jobs older than this (e.g. 7d, 12h, 30m, 45s).
        #[arg(long, default_value = "7d")]
        older_than: String,
        /// Audit entries older than this.
        #[arg(long, default_value = "90d")]
        audit_older_than: String,
        /// Say what would happen; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum MigrateCommand {
    /// To the version this queuetopia needs.
    Up,
    /// Down to a version (0 removes every table).
    Down {
        #[arg(long)]
        to: u32,
    },
    /// The schema's version, and the one this queuetopia needs.
    Status,
}

#[derive(Debug, Subcommand)]
pub(crate) enum JobsCommand {
    /// A page of jobs, newest first.
    List {
        #[arg(long)]
        queue: Option<String>,
        #[arg(long)]
        queue_prefix: Option<String>,
        /// pending, running, retrying, held, done or given_up.
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        action: Option<String>,
        /// Text in the queue, action or params.
        #[arg(long)]
        search: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// The cursor printed at the end of the previous page.
        #[arg(long)]
        after: Option<i64>,
    },
    /// One job, whole.
    Show { id: i64 },
}

/// Which queues `queues` shows: any of the states asked for (all without one).
#[derive(Debug, Args)]
pub(crate) struct QueueFilter {
    #[arg(long)]
    pub(crate) blocked: bool,
    #[arg(long)]
    pub(crate) held: bool,
    #[arg(long)]
    pub(crate) paused: bool,
    #[arg(long)]
    pub(crate) running: bool,
    #[arg(long)]
    pub(crate) waiting: bool,
    #[arg(long)]
    pub(crate) queue_prefix: Option<String>,
    #[arg(long, default_value_t = 50)]
    pub(crate) limit: usize,
}

/// One job by id, or the jobs a filter matches.
#[derive(Debug, Args)]
pub(crate) struct Bulk {
    /// The job (or give a filter).
    pub(crate) id: Option<i64>,
    /// Every job of queues whose name starts with this.
    #[arg(long)]
    pub(crate) queue_prefix: Option<String>,
    /// Every job in this state.
    #[arg(long)]
    pub(crate) state: Option<String>,
    /// Every job with this action.
    #[arg(long)]
    pub(crate) action: Option<String>,
    /// Every job of the scope (what the other filters still match).
    #[arg(long)]
    pub(crate) all: bool,
    /// Count what would be acted on; change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Do not ask for confirmation (needed without a terminal).
    #[arg(long)]
    pub(crate) yes: bool,
}

/// A duration such as `7d`, `12h`, `30m`, `45s` or `0s`.
pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration (e.g. 7d, 12h, 30m, 45s)");
    let split = text.len().checked_sub(1).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "d" => number.checked_mul(86_400),
        "h" => number.checked_mul(3_600),
        "m" => number.checked_mul(60),
        "s" => Some(number),
        _ => None,
    };
    seconds.map(Duration::from_secs).ok_or_else(bad)
}
