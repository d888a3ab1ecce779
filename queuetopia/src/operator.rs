//! Operators' actions on jobs, who takes them and why, and the audit they
//! leave.
//!
//! Every action (retry, skip, cancel, edit) checks the job's state in the
//! statement that changes it, under its queue's lock, and writes one audit
//! row in the same transaction: both are stored or neither is.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::defaults::{DEFAULT_PAGE, MAX_PAGE};
use crate::error::{Error, Result};
use crate::handle::Queuetopia;
use crate::job::{Job, JobState, check_name, check_params};
use crate::list::JobFilter;
use crate::store::{AuditList, JobAct, JobAction, QueuePause, Store};

impl Queuetopia {
    /// The operator actions, taken as `operator`: each one writes its name
    /// and reason in the audit. The same actions on the handle itself are
    /// written as this node's name ([`crate::Builder::node`]), without a
    /// reason.
    ///
    /// ```no_run
    /// # async fn f(q: queuetopia::Queuetopia) -> queuetopia::Result<()> {
    /// use queuetopia::Operator;
    ///
    /// let alice = q.operator(Operator::new("alice").reason("address fixed, INC-4711"));
    /// alice.edit_job_params(42, serde_json::json!({ "to": "bob@example.com" })).await?;
    /// alice.retry_job(42).await?;
    /// # Ok(()) }
    /// ```
    pub fn operator(&self, operator: Operator) -> Operations<'_> {
        Operations { q: self, operator }
    }

    fn as_node(&self) -> Operations<'_> {
        self.operator(Operator::new(self.shared.node.clone()))
    }

    /// [`Operations::retry_job`], as this node.
    ///
    /// # Errors
    ///
    /// As [`Operations::retry_job`].
    pub async fn retry_job(&self, id: i64) -> Result<Job> {
        self.as_node().retry_job(id).await
    }

    /// [`Operations::skip_job`], as this node.
    ///
    /// # Errors
    ///
    /// As [`Operations::skip_job`].
    pub async fn skip_job(&self, id: i64) -> Result<Job> {
        self.as_node().skip_job(id).await
    }

    /// [`Operations::cancel_job`], as this node.
    ///
    /// # Errors
    ///
    /// As [`Operations::cancel_job`].
    pub async fn cancel_job(&self, id: i64) -> Result<Job> {
        self.as_node().cancel_job(id).await
    }

    /// [`Operations::edit_job_params`], as this node.
    ///
    /// # Errors
    ///
    /// As [`Operations::edit_job_params`].
    pub async fn edit_job_params(&self, id: i64, params: impl Serialize) -> Result<Job> {
        self.as_node().edit_job_params(id, params).await
    }

    /// Deletes this scope's audit entries older than `older_than` now, as
    /// the cleaner does every cleanup interval past
    /// [`crate::Builder::audit_retention`]; returns how many.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for a duration over 10 years; [`Error::Backend`].
    pub async fn delete_old_audit(&self, older_than: std::time::Duration) -> Result<u64> {
        if older_than > crate::defaults::MAX_DURATION {
            return Err(Error::validation("older_than", "must be at most 10 years"));
        }
        crate::scheduler::cleanup::delete_audit(
            &*self.shared.db.store,
            &self.shared.scope,
            older_than,
            self.shared.clock.now(),
        )
        .await
    }

    /// [`Operations::pause_queue`], as this node.
    ///
    /// # Errors
    ///
    /// As [`Operations::pause_queue`].
    pub async fn pause_queue(&self, queue: &str) -> Result<()> {
        self.as_node().pause_queue(queue).await
    }

    /// [`Operations::resume_queue`], as this node.
    ///
    /// # Errors
    ///
    /// As [`Operations::resume_queue`].
    pub async fn resume_queue(&self, queue: &str) -> Result<()> {
        self.as_node().resume_queue(queue).await
    }

    /// A page of this scope's audit: the operator actions, newest first.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for a bad filter; [`Error::Backend`].
    pub async fn list_audit(&self, filter: &AuditFilter) -> Result<AuditPage> {
        filter.check()?;
        let entries = self
            .shared
            .db
            .store
            .audit_list(AuditList {
                scope: &self.shared.scope,
                filter,
            })
            .await?;
        let next = match entries.len() == filter.limit as usize {
            true => entries.last().map(|e| e.id),
            false => None,
        };
        Ok(AuditPage { entries, next })
    }
}

/// The operator actions of one [`Operator`] on one scope: see
/// [`Queuetopia::operator`]. Each checks the job's state in the statement
/// that changes it (no race with a scheduler), refuses with
/// [`Error::JobState`] when the state does not allow it, and writes the
/// audit in the same transaction.
pub struct Operations<'q> {
    q: &'q Queuetopia,
    operator: Operator,
}

impl std::fmt::Debug for Operations<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operations")
            .field("operator", &self.operator)
            .finish_non_exhaustive()
    }
}

impl Operations<'_> {
    /// Lets a failed, held or given-up job run again now, with one more
    /// attempt if it had used them all. It runs in its place in its queue's
    /// order: never before a job created before it.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for a bad [`Operator`]; [`Error::JobNotFound`];
    /// [`Error::JobState`] when the job is done or an attempt of it is
    /// running.
    pub async fn retry_job(&self, id: i64) -> Result<Job> {
        self.act(id, JobAction::Retry).await
    }

    /// Gives up a job that is neither done nor running, so its queue moves on.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for a bad [`Operator`]; [`Error::JobNotFound`];
    /// [`Error::JobState`] when the job is done, already given up, or an
    /// attempt of it is running.
    pub async fn skip_job(&self, id: i64) -> Result<Job> {
        self.act(id, JobAction::Skip).await
    }

    /// Removes a job that never ran from its queue; the rest of the queue
    /// keeps its order. The job is deleted: the audit keeps its params.
    /// Returns the job as it was.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for a bad [`Operator`]; [`Error::JobNotFound`];
    /// [`Error::JobState`] when an attempt of it started (running, failed,
    /// held), or it is done or given up.
    pub async fn cancel_job(&self, id: i64) -> Result<Job> {
        self.act(id, JobAction::Cancel).await
    }

    /// Replaces the params of a failed or held job, so that its next
    /// attempt runs with them (retry it to run it now). The audit keeps the
    /// params before and after.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for a bad [`Operator`] or params (as for
    /// [`crate::NewJob::new`]); [`Error::JobNotFound`]; [`Error::JobState`]
    /// when the job never ran, is running, done or given up.
    pub async fn edit_job_params(&self, id: i64, params: impl Serialize) -> Result<Job> {
        let params = check_params(params)?;
        self.act(id, JobAction::Edit { params: &params }).await
    }

    /// Pauses a queue: once this returns, no attempt of it starts on any
    /// node until [`Operations::resume_queue`]. An attempt running now
    /// runs to its end (and its result is written); jobs can still be
    /// created in the queue. The pause is stored: it holds across restarts.
    /// A queue with no job yet can be paused ahead of its jobs.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for a bad [`Operator`] or queue name;
    /// [`Error::QueueState`] when the queue is already paused.
    pub async fn pause_queue(&self, queue: &str) -> Result<()> {
        self.pause(queue, true).await
    }

    /// Resumes a paused queue: its head runs as soon as it may.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for a bad [`Operator`] or queue name;
    /// [`Error::QueueState`] when the queue is not paused.
    pub async fn resume_queue(&self, queue: &str) -> Result<()> {
        self.pause(queue, false).await
    }

    /// How many jobs a bulk action with `filter` would act on now (a dry
    /// run: nothing changes). A job may still be refused when the action
    /// comes (an attempt of it started in between).
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for a filter without a criterion (unless
    /// [`BulkFilter::all`]); [`Error::Backend`].
    pub async fn count_jobs(&self, filter: &BulkFilter) -> Result<u64> {
        let mut matching = Matching::new(self.q, filter)?;
        let mut count = 0;
        while let Some(ids) = matching.next_page().await? {
            count += ids.len() as u64;
        }
        Ok(count)
    }

    /// Retries every job `filter` matches, oldest first, each as
    /// [`Operations::retry_job`] does (one audit entry each); jobs whose
    /// state refuses it by then are counted, not acted on.
    ///
    /// # Errors
    ///
    /// As [`Operations::count_jobs`]; a database error stops the action
    /// part-way (the jobs acted on so far stay so).
    pub async fn retry_jobs(&self, filter: &BulkFilter) -> Result<BulkOutcome> {
        self.bulk(filter, JobAction::Retry).await
    }

    /// Skips every job `filter` matches, as [`Operations::retry_jobs`] retries.
    ///
    /// # Errors
    ///
    /// As [`Operations::retry_jobs`].
    pub async fn skip_jobs(&self, filter: &BulkFilter) -> Result<BulkOutcome> {
        self.bulk(filter, JobAction::Skip).await
    }

    /// Cancels every job `filter` matches that never ran, as
    /// [`Operations::retry_jobs`] retries.
    ///
    /// # Errors
    ///
    /// As [`Operations::retry_jobs`].
    pub async fn cancel_jobs(&self, filter: &BulkFilter) -> Result<BulkOutcome> {
        self.bulk(filter, JobAction::Cancel).await
    }

    async fn bulk(&self, filter: &BulkFilter, action: JobAction<'_>) -> Result<BulkOutcome> {
        self.operator.check()?;
        let mut matching = Matching::new(self.q, filter)?;
        let mut outcome = BulkOutcome::default();
        while let Some(ids) = matching.next_page().await? {
            for id in ids {
                outcome.matched += 1;
                match self.act(id, action).await {
                    Ok(_) => outcome.acted += 1,
                    // Its state changed since it was listed, or it is gone.
                    Err(Error::JobState { .. } | Error::JobNotFound(_)) => outcome.refused += 1,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(outcome)
    }

    async fn pause(&self, queue: &str, pause: bool) -> Result<()> {
        self.operator.check()?;
        check_name("queue", queue)?;
        let shared = &self.q.shared;
        let scope = &shared.scope;
        let actor = self.operator.actor.as_str();
        shared
            .db
            .store
            .queue_pause(QueuePause {
                scope,
                queue,
                pause,
                actor,
                reason: self.operator.reason.as_deref(),
                now: shared.clock.now(),
            })
            .await?;
        crate::metrics::operator_action(scope, if pause { "pause" } else { "resume" });
        match pause {
            true => tracing::info!(%scope, queue, actor, "queue paused"),
            false => {
                tracing::info!(%scope, queue, actor, "queue resumed");
                self.q.wake();
            }
        }
        Ok(())
    }

    async fn act(&self, id: i64, action: JobAction<'_>) -> Result<Job> {
        self.operator.check()?;
        let shared = &self.q.shared;
        let scope = &shared.scope;
        let actor = self.operator.actor.as_str();
        let job = shared
            .db
            .store
            .job_act(JobAct {
                scope,
                id,
                action,
                actor,
                reason: self.operator.reason.as_deref(),
                now: shared.clock.now(),
            })
            .await?;
        tracing::info!(%scope, job_id = id, action = action.name(), actor, "operator action");
        crate::metrics::operator_action(scope, action.name());
        // The queue may be ready now (a retry, a skip or a cancel of its head).
        self.q.wake();
        Ok(job)
    }
}

/// Who performs an operator action, and why; both are written in the
/// audit. Pass one to [`Queuetopia::operator`].
///
/// ```
/// use queuetopia::Operator;
///
/// let alice = Operator::new("alice@ops").reason("SMTP credentials fixed, INC-4711");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub(crate) actor: String,
    pub(crate) reason: Option<String>,
}

impl Operator {
    /// An operator named `actor` (1 to 255 bytes, no NUL character: an
    /// email, a login, a service's name).
    pub fn new(actor: impl Into<String>) -> Self {
        Operator {
            actor: actor.into(),
            reason: None,
        }
    }

    /// Why they act (at most [`MAX_REASON_BYTES`] bytes, no NUL character).
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// The actor's name.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    pub(crate) fn check(&self) -> Result<()> {
        let actor = &self.actor;
        if actor.is_empty() || actor.len() > 255 || actor.contains('\0') {
            return Err(Error::validation(
                "actor",
                "must be 1 to 255 bytes, without NUL characters",
            ));
        }
        if let Some(reason) = &self.reason
            && (reason.len() > MAX_REASON_BYTES || reason.contains('\0'))
        {
            return Err(Error::validation(
                "reason",
                format!("must be at most {MAX_REASON_BYTES} bytes, without NUL characters"),
            ));
        }
        Ok(())
    }
}

/// The longest reason an [`Operator`] may give, in bytes.
pub const MAX_REASON_BYTES: usize = 4096;

/// One operator action, as the audit keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Grows with every entry of the database: the cursor of [`AuditFilter::after`].
    pub id: i64,
    /// The scope acted in.
    pub scope: String,
    /// When the action was written, on the database's clock (or a pinned [`crate::Clock`]).
    pub at: DateTime<Utc>,
    /// Who acted ([`Operator::new`]).
    pub actor: String,
    /// What they did: `retry`, `skip`, `cancel`, `edit`, `pause` or `resume`.
    pub action: String,
    /// The queue acted on.
    pub queue: Option<String>,
    /// The job acted on (none for a queue's pause or resume).
    pub job_id: Option<i64>,
    /// Why ([`Operator::reason`]).
    pub reason: Option<String>,
    /// The job's params before an edit, or of a cancelled job.
    pub params_before: Option<Map<String, Value>>,
    /// The job's params after an edit.
    pub params_after: Option<Map<String, Value>>,
}

/// Which jobs a bulk action acts on: at least one criterion, or
/// [`BulkFilter::all`] to say that every job of the scope is meant.
///
/// ```
/// use queuetopia::{BulkFilter, JobState};
///
/// let stuck_mails = BulkFilter::default().queue_prefix("mail:").state(JobState::Held);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkFilter {
    queue_prefix: Option<String>,
    state: Option<JobState>,
    action: Option<String>,
    all: bool,
}

impl BulkFilter {
    /// Only jobs of queues whose name starts with this (not empty).
    pub fn queue_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.queue_prefix = Some(prefix.into());
        self
    }

    /// Only jobs in this state.
    pub fn state(mut self, state: JobState) -> Self {
        self.state = Some(state);
        self
    }

    /// Only jobs with this action.
    pub fn action(mut self, action: impl Into<String>) -> Self {
        self.action = Some(action.into());
        self
    }

    /// Every job of the scope (what the other criteria still match): a
    /// filter without criteria is refused unless this says it is meant.
    pub fn all(mut self) -> Self {
        self.all = true;
        self
    }

    /// The listing that pages through the matching jobs, oldest first.
    fn check(&self) -> Result<JobFilter> {
        if self.queue_prefix.as_deref() == Some("") {
            return Err(Error::validation("queue_prefix", "must not be empty"));
        }
        if self.queue_prefix.is_none() && self.state.is_none() && self.action.is_none() && !self.all
        {
            return Err(Error::validation(
                "filter",
                "a bulk action needs a queue prefix, a state or an action, or `all`",
            ));
        }
        let mut page = JobFilter::default().oldest_first().limit(MAX_PAGE);
        if let Some(prefix) = &self.queue_prefix {
            page = page.queue_prefix(prefix.clone());
        }
        if let Some(state) = self.state {
            page = page.state(state);
        }
        if let Some(action) = &self.action {
            page = page.action(action.clone());
        }
        page.check()?;
        Ok(page)
    }
}

/// The jobs a [`BulkFilter`] matches, a page of ids at a time, oldest first.
struct Matching<'q> {
    q: &'q Queuetopia,
    page: Option<JobFilter>,
}

impl<'q> Matching<'q> {
    fn new(q: &'q Queuetopia, filter: &BulkFilter) -> Result<Self> {
        Ok(Matching {
            q,
            page: Some(filter.check()?),
        })
    }

    async fn next_page(&mut self) -> Result<Option<Vec<i64>>> {
        let Some(page) = self.page.take() else {
            return Ok(None);
        };
        let jobs = self.q.list_jobs(&page).await?;
        self.page = jobs.next.map(|cursor| page.after(cursor));
        Ok(Some(jobs.jobs.iter().map(|e| e.job.id).collect()))
    }
}

/// What a bulk action did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BulkOutcome {
    /// The jobs the filter matched when the action reached them.
    pub matched: u64,
    /// Those acted on (an audit entry each).
    pub acted: u64,
    /// Those whose state refused the action by then (or that were gone).
    pub refused: u64,
}

/// A page of the audit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditPage {
    /// Newest first.
    pub entries: Vec<AuditEntry>,
    /// The cursor of the next page ([`AuditFilter::after`]), if there may be one.
    pub next: Option<i64>,
}

/// Which audit entries [`crate::Queuetopia::list_audit`] returns: newest
/// first, a page at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFilter {
    pub(crate) job_id: Option<i64>,
    pub(crate) limit: u32,
    pub(crate) after: Option<i64>,
}

impl Default for AuditFilter {
    fn default() -> Self {
        AuditFilter {
            job_id: None,
            limit: DEFAULT_PAGE,
            after: None,
        }
    }
}

impl AuditFilter {
    /// Only the entries of this job.
    pub fn job(mut self, id: i64) -> Self {
        self.job_id = Some(id);
        self
    }

    /// At most this many entries (1 to [`MAX_PAGE`], default [`DEFAULT_PAGE`]).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }

    /// Only entries older than this cursor (the id of the last entry of the
    /// previous page).
    pub fn after(mut self, cursor: i64) -> Self {
        self.after = Some(cursor);
        self
    }

    pub(crate) fn check(&self) -> Result<()> {
        if self.limit == 0 || self.limit > MAX_PAGE {
            return Err(Error::validation(
                "limit",
                format!("must be between 1 and {MAX_PAGE}"),
            ));
        }
        Ok(())
    }
}

/// Params kept as JSON text (SQLite, MySQL), read back.
#[cfg(any(feature = "sqlite", feature = "mysql"))]
pub(crate) fn params_from_text(text: Option<String>) -> Result<Option<Map<String, Value>>> {
    match text.map(|t| serde_json::from_str(&t)) {
        None => Ok(None),
        Some(Ok(Value::Object(map))) => Ok(Some(map)),
        Some(_) => Err(Error::unexpected("audited params are not a JSON object")),
    }
}
