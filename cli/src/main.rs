//! `queuetopia`: the operator's command line. Find the blocked queues, read
//! their heads' errors, fix, retry, and see them drain; pause and resume
//! queues; act in bulk; read the audit; migrate and check the schema.
//!
//! Exit codes: 0 done; 1 the database failed or is unreachable (or, for
//! `health`, its schema is not the one this version needs); 2 bad usage or
//! input; 3 the job or queue does not exist, or is not in a state that
//! allows the action; 4 a bulk write was not confirmed.

mod args;
mod output;

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use args::{Bulk, Cli, Command, JobsCommand, MigrateCommand};
use clap::Parser;
use queuetopia::{AuditFilter, BulkFilter, Db, Error, JobFilter, Operator, Queuetopia, Tables};

/// What went wrong, with the exit code it maps to.
struct Failure {
    code: u8,
    message: String,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let code = match &e {
            Error::Validation { .. } => 2,
            Error::JobNotFound(_) | Error::JobState { .. } | Error::QueueState { .. } => 3,
            _ => 1,
        };
        Failure {
            code,
            message: e.to_string(),
        }
    }
}

fn usage(message: impl Into<String>) -> Failure {
    Failure {
        code: 2,
        message: message.into(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let mut tables = Tables::default();
    if let Some(prefix) = &cli.table_prefix {
        tables = tables.prefix(prefix.clone());
    }
    if let Some(schema) = &cli.schema {
        tables = tables.schema(schema.clone());
    }
    if cli.database_url.is_empty() {
        return Err(usage(
            "no database: set DATABASE_URL or pass --database-url (postgres://…, mysql://…, sqlite://path)",
        ));
    }
    let wait = std::time::Duration::from_secs(cli.connect_timeout);
    let db = tokio::time::timeout(wait, Db::connect_with(&cli.database_url, tables))
        .await
        .map_err(|_| Failure {
            code: 1,
            message: format!("the database did not answer within {wait:?}"),
        })??;
    match &cli.command {
        Command::Migrate { command } => return migrate(&db, command).await,
        Command::Health => return health(&db).await,
        _ => {}
    }
    // An empty USER is no name.
    let actor = match cli.actor.trim() {
        "" => "queuetopia-cli".to_owned(),
        actor => actor.to_owned(),
    };
    let q = Queuetopia::producer(db)
        .scope(cli.scope.clone())
        .node(actor.clone())
        .build()
        .await?;
    let mut operator = Operator::new(actor);
    if let Some(reason) = &cli.reason {
        operator = operator.reason(reason.clone());
    }
    let ops = q.operator(operator);
    let json = cli.json;
    match &cli.command {
        Command::Migrate { .. } | Command::Health => Ok(()),
        Command::Queues(filter) => {
            let queues = q.list_queues().await?;
            let shown = output::select_queues(queues, filter);
            match json {
                true => output::json(&shown),
                false => output::queues(&shown),
            }
            Ok(())
        }
        Command::Jobs { command } => jobs(&q, command, json).await,
        Command::Retry(bulk) => act(&q, &ops, bulk, Action::Retry, json).await,
        Command::Skip(bulk) => act(&q, &ops, bulk, Action::Skip, json).await,
        Command::Cancel(bulk) => act(&q, &ops, bulk, Action::Cancel, json).await,
        Command::Edit {
            id,
            params,
            dry_run,
        } => {
            let params: serde_json::Value = serde_json::from_str(params)
                .map_err(|e| usage(format!("--params is not JSON: {e}")))?;
            if *dry_run {
                let entry = q.get_job(*id).await?;
                println!("would edit job {id} (now {})", entry.state.as_str());
                return Ok(());
            }
            let job = ops.edit_job_params(*id, params).await?;
            match json {
                true => output::json(&job),
                false => println!("job {id} edited"),
            }
            Ok(())
        }
        Command::Pause { queue, dry_run } | Command::Resume { queue, dry_run } => {
            let pause = matches!(cli.command, Command::Pause { .. });
            let verb = if pause { "pause" } else { "resume" };
            if *dry_run {
                println!("would {verb} queue {queue:?}");
                return Ok(());
            }
            match pause {
                true => ops.pause_queue(queue).await?,
                false => ops.resume_queue(queue).await?,
            }
            println!("queue {queue:?} {verb}d");
            Ok(())
        }
        Command::Audit { job, limit, after } => {
            let mut filter = AuditFilter::default().limit(*limit);
            if let Some(job) = job {
                filter = filter.job(*job);
            }
            if let Some(after) = after {
                filter = filter.after(*after);
            }
            let page = q.list_audit(&filter).await?;
            match json {
                true => output::json(&page),
                false => output::audit(&page),
            }
            Ok(())
        }
        Command::Cleanup {
            older_than,
            audit_older_than,
            dry_run,
        } => {
            let older_than = args::duration(older_than).map_err(usage)?;
            let audit_older_than = args::duration(audit_older_than).map_err(usage)?;
            if *dry_run {
                println!(
                    "would delete done jobs older than {older_than:?}, audit entries older than \
                     {audit_older_than:?}, and the rows of empty queues"
                );
                return Ok(());
            }
            let jobs = q.delete_done_jobs(older_than).await?;
            let audit = q.delete_old_audit(audit_older_than).await?;
            let queues = q.prune_queues().await?;
            match json {
                true => output::json(&serde_json::json!({
                    "done_jobs_deleted": jobs,
                    "audit_entries_deleted": audit,
                    "queues_pruned": queues,
                })),
                false => println!(
                    "{jobs} done jobs, {audit} audit entries and {queues} empty queues deleted"
                ),
            }
            Ok(())
        }
    }
}

async fn migrate(db: &Db, command: &MigrateCommand) -> Result<(), Failure> {
    let latest = db.latest_schema_version();
    match command {
        MigrateCommand::Up => {
            db.migrate().await?;
            println!("schema at version {latest}");
        }
        MigrateCommand::Down { to } => {
            db.migrate_to(*to).await?;
            println!("schema at version {to}");
        }
        MigrateCommand::Status => {
            let found = db.schema_version().await?;
            let state = match found.cmp(&latest) {
                std::cmp::Ordering::Equal => "up to date",
                std::cmp::Ordering::Less => "behind: run `queuetopia migrate up`",
                std::cmp::Ordering::Greater => "newer than this version of queuetopia",
            };
            println!("schema at version {found}, this version needs {latest}: {state}");
        }
    }
    Ok(())
}

async fn health(db: &Db) -> Result<(), Failure> {
    let found = db.schema_version().await?;
    let latest = db.latest_schema_version();
    if found != latest {
        return Err(Failure {
            code: 1,
            message: format!("the schema is at version {found}, this version needs {latest}"),
        });
    }
    println!(
        "ok: {:?} reachable, schema at version {found}",
        db.backend()
    );
    Ok(())
}

async fn jobs(q: &Queuetopia, command: &JobsCommand, json: bool) -> Result<(), Failure> {
    match command {
        JobsCommand::List {
            queue,
            queue_prefix,
            state,
            action,
            search,
            limit,
            after,
        } => {
            let mut filter = JobFilter::default().limit(*limit);
            if let Some(queue) = queue {
                filter = filter.queue(queue.clone());
            }
            if let Some(prefix) = queue_prefix {
                filter = filter.queue_prefix(prefix.clone());
            }
            if let Some(state) = state {
                filter = filter.state(state.parse()?);
            }
            if let Some(action) = action {
                filter = filter.action(action.clone());
            }
            if let Some(search) = search {
                filter = filter.search(search.clone());
            }
            if let Some(after) = after {
                filter = filter.after(*after);
            }
            let page = q.list_jobs(&filter).await?;
            match json {
                true => output::json(&page),
                false => output::jobs(&page),
            }
        }
        JobsCommand::Show { id } => {
            let entry = q.get_job(*id).await?;
            match json {
                true => output::json(&entry),
                false => output::job(&entry),
            }
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Action {
    Retry,
    Skip,
    Cancel,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Action::Retry => "retry",
            Action::Skip => "skip",
            Action::Cancel => "cancel",
        }
    }

    fn done(self) -> &'static str {
        match self {
            Action::Retry => "retried",
            Action::Skip => "skipped",
            Action::Cancel => "cancelled",
        }
    }
}

/// One job by id, or every job a filter matches (after a confirmation).
async fn act(
    q: &Queuetopia,
    ops: &queuetopia::Operations<'_>,
    bulk: &Bulk,
    action: Action,
    json: bool,
) -> Result<(), Failure> {
    let verb = action.verb();
    if let Some(id) = bulk.id {
        if bulk.has_filter() {
            return Err(usage("give a job id or a filter, not both"));
        }
        if bulk.dry_run {
            let entry = q.get_job(id).await?;
            println!("would {verb} job {id} (now {})", entry.state.as_str());
            return Ok(());
        }
        let job = match action {
            Action::Retry => ops.retry_job(id).await?,
            Action::Skip => ops.skip_job(id).await?,
            Action::Cancel => ops.cancel_job(id).await?,
        };
        match json {
            true => output::json(&job),
            false => println!("job {id} {}", action.done()),
        }
        return Ok(());
    }
    let filter = bulk.filter()?;
    let count = ops.count_jobs(&filter).await?;
    if bulk.dry_run {
        match json {
            true => output::json(&serde_json::json!({ "matched": count })),
            false => println!("would {verb} {count} jobs"),
        }
        return Ok(());
    }
    if count > 0 && !bulk.yes {
        confirm(&format!("{verb} {count} jobs?"))?;
    }
    let outcome = match action {
        Action::Retry => ops.retry_jobs(&filter).await?,
        Action::Skip => ops.skip_jobs(&filter).await?,
        Action::Cancel => ops.cancel_jobs(&filter).await?,
    };
    match json {
        true => output::json(&outcome),
        false => println!(
            "{verb}: {} matched, {} done, {} refused by their state",
            outcome.matched, outcome.acted, outcome.refused
        ),
    }
    Ok(())
}

/// Asks on the terminal; without one, a bulk write needs `--yes`.
fn confirm(question: &str) -> Result<(), Failure> {
    let refused = Failure {
        code: 4,
        message: "not confirmed: nothing changed (pass --yes to confirm without a terminal)"
            .to_owned(),
    };
    if !std::io::stdin().is_terminal() {
        return Err(refused);
    }
    print!("{question} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return Err(refused);
    }
    match answer.trim() {
        "y" | "Y" | "yes" => Ok(()),
        _ => Err(refused),
    }
}

impl Bulk {
    fn has_filter(&self) -> bool {
        self.queue_prefix.is_some() || self.state.is_some() || self.action.is_some() || self.all
    }

    fn filter(&self) -> Result<BulkFilter, Failure> {
        let mut filter = BulkFilter::default();
        if let Some(prefix) = &self.queue_prefix {
            filter = filter.queue_prefix(prefix.clone());
        }
        if let Some(state) = &self.state {
            filter = filter.state(state.parse()?);
        }
        if let Some(action) = &self.action {
            filter = filter.action(action.clone());
        }
        if self.all {
            filter = filter.all();
        }
        if !self.has_filter() {
            return Err(usage(
                "give a job id, or a filter (--queue-prefix, --state, --action, or --all)",
            ));
        }
        Ok(filter)
    }
}
