//! Reading the state of a scope: its jobs and its queues.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::defaults::{DEFAULT_PAGE, MAX_PAGE};
use crate::error::{Error, Result};
use crate::job::{Job, JobState};

/// Which jobs [`crate::Queuetopia::list_jobs`] returns, and in what order.
///
/// Pages are cut by id: pass the `next` cursor of a page to
/// [`JobFilter::after`] to read the following one.
///
/// ```
/// use queuetopia::{JobFilter, JobState};
///
/// let filter = JobFilter::default()
///     .queue("account:42")
///     .state(JobState::Retrying)
///     .search("smtp")
///     .limit(20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFilter {
    pub(crate) id: Option<i64>,
    pub(crate) queue: Option<String>,
    pub(crate) queue_prefix: Option<String>,
    pub(crate) action: Option<String>,
    pub(crate) state: Option<JobState>,
    pub(crate) search: Option<String>,
    pub(crate) limit: u32,
    pub(crate) after: Option<i64>,
    pub(crate) oldest_first: bool,
}

impl Default for JobFilter {
    fn default() -> Self {
        JobFilter {
            id: None,
            queue: None,
            queue_prefix: None,
            action: None,
            state: None,
            search: None,
            limit: DEFAULT_PAGE,
            after: None,
            oldest_first: false,
        }
    }
}

impl JobFilter {
    /// Only the job with this id.
    pub fn id(mut self, id: i64) -> Self {
        self.id = Some(id);
        self
    }

    /// Only jobs of this queue.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// Only jobs of queues whose name starts with this (byte for byte).
    pub fn queue_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.queue_prefix = Some(prefix.into());
        self
    }

    /// Only jobs with this action.
    pub fn action(mut self, action: impl Into<String>) -> Self {
        self.action = Some(action.into());
        self
    }

    /// Only jobs in this state.
    pub fn state(mut self, state: JobState) -> Self {
        self.state = Some(state);
        self
    }

    /// Only jobs whose queue, action or params contain this text
    /// (case-insensitive for ASCII letters).
    pub fn search(mut self, text: impl Into<String>) -> Self {
        self.search = Some(text.into());
        self
    }

    /// At most this many jobs (1 to [`MAX_PAGE`], default [`DEFAULT_PAGE`]).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }

    /// Only jobs after this cursor (an id, from [`JobPage::next`]).
    pub fn after(mut self, cursor: i64) -> Self {
        self.after = Some(cursor);
        self
    }

    /// Oldest first instead of newest first.
    pub fn oldest_first(mut self) -> Self {
        self.oldest_first = true;
        self
    }

    pub(crate) fn check(&self) -> Result<()> {
        if self.limit == 0 || self.limit > MAX_PAGE {
            return Err(Error::validation(
                "limit",
                format!("must be between 1 and {MAX_PAGE}"),
            ));
        }
        for (field, text) in [
            ("queue", &self.queue),
            ("queue_prefix", &self.queue_prefix),
            ("action", &self.action),
            ("search", &self.search),
        ] {
            if text.as_deref().is_some_and(|t| t.contains('\0')) {
                return Err(Error::validation(field, "must not contain NUL characters"));
            }
        }
        Ok(())
    }

    /// The `LIKE` pattern of the search text, with `escape` as escape character.
    pub(crate) fn like_pattern(&self, escape: char) -> Option<String> {
        self.search.as_ref().map(|s| {
            let mut p = String::with_capacity(s.len() + 2);
            p.push('%');
            for c in s.chars() {
                if c == '%' || c == '_' || c == escape {
                    p.push(escape);
                }
                p.push(c);
            }
            p.push('%');
            p
        })
    }
}

/// A job and its state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobEntry {
    /// The job.
    pub job: Job,
    /// Its state now.
    pub state: JobState,
}

impl JobEntry {
    pub(crate) fn new(job: Job, running: bool) -> Self {
        let state = if job.done_at.is_some() {
            JobState::Done
        } else if job.given_up_at.is_some() {
            JobState::GivenUp
        } else if running {
            JobState::Running
        } else if job.attempts >= job.max_attempts {
            JobState::Held
        } else if job.attempts > 0 {
            JobState::Retrying
        } else {
            JobState::Pending
        };
        JobEntry { job, state }
    }
}

/// One page of jobs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobPage {
    /// The jobs, in the order asked for.
    pub jobs: Vec<JobEntry>,
    /// The cursor of the next page, if there may be one.
    pub next: Option<i64>,
}

/// A queue of the scope, as listed by [`crate::Queuetopia::list_queues`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueInfo {
    /// The queue's name.
    pub queue: String,
    /// Jobs neither done nor given up.
    pub size: u64,
    /// The first job that is neither done nor given up.
    pub head: Option<Job>,
    /// Set when the head has failed and blocks the queue.
    pub blocked: Option<Blocked>,
    /// Set when a node holds the queue's lock.
    pub lock: Option<QueueLock>,
    /// Set while an operator has paused the queue: no attempt of it starts.
    pub paused: Option<Paused>,
}

/// Who paused a queue, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Paused {
    /// The operator's name ([`crate::Operator::new`]).
    pub by: String,
    /// When, on the database's clock.
    pub since: DateTime<Utc>,
}

/// Why a queue is blocked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Blocked {
    /// The job that blocks it (the head).
    pub job_id: i64,
    /// When the head first failed.
    pub since: DateTime<Utc>,
    /// The head's last error.
    pub error: Option<String>,
    /// The head used all its attempts and the queue waits for an operator.
    pub held: bool,
}

/// Who holds a queue's lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueLock {
    /// The node.
    pub node: String,
    /// When the lease runs out.
    pub until: DateTime<Utc>,
    /// The job running under it, if its attempt has no result yet.
    pub running_job_id: Option<i64>,
}

/// A queue's row as every backend's listing reads it.
pub(crate) struct QueueRow {
    pub(crate) queue: String,
    pub(crate) size: i64,
    pub(crate) head: Option<Job>,
    pub(crate) blocked_since: Option<DateTime<Utc>>,
    /// Set only while the lease is live.
    pub(crate) locked_by: Option<String>,
    pub(crate) locked_until: Option<DateTime<Utc>>,
    pub(crate) running_job_id: Option<i64>,
    pub(crate) paused_at: Option<DateTime<Utc>>,
    pub(crate) paused_by: Option<String>,
}

impl QueueRow {
    /// What the listing shows of the queue; `None` for a queue with no open
    /// job, no lock and no pause.
    pub(crate) fn into_info(self) -> Option<QueueInfo> {
        let lock = match (self.locked_by, self.locked_until) {
            (Some(node), Some(until)) => Some(QueueLock {
                node,
                until,
                running_job_id: self.running_job_id,
            }),
            _ => None,
        };
        let paused = match (self.paused_by, self.paused_at) {
            (Some(by), Some(since)) => Some(Paused { by, since }),
            _ => None,
        };
        let size = u64::try_from(self.size).unwrap_or(0);
        if size == 0 && lock.is_none() && paused.is_none() {
            return None;
        }
        let blocked = match (&self.head, self.blocked_since) {
            (Some(head), Some(since)) if head.error.is_some() => Some(Blocked {
                job_id: head.id,
                since,
                error: head.error.clone(),
                held: head.is_exhausted(),
            }),
            _ => None,
        };
        Some(QueueInfo {
            queue: self.queue,
            size,
            head: self.head,
            blocked,
            lock,
            paused,
        })
    }
}
