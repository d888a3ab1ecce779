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
use crate::job::{Job, check_name, check_params};
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
