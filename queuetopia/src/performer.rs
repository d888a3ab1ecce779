//! The performer: the user's code that runs jobs.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::job::Job;
use crate::retry;

/// Runs the jobs of a scope.
///
/// `perform` is called for the head job of a queue; `Ok` marks the job done
/// and lets the queue move on, an error blocks the queue and retries the job
/// after a backoff. A panic or a timeout counts as an error.
///
/// ```
/// use queuetopia::{Job, JobError, Performer};
///
/// struct Mailer;
///
/// impl Performer for Mailer {
///     async fn perform(&self, job: &Job) -> Result<(), JobError> {
///         match job.action.as_str() {
///             "send_welcome" => Ok(()),
///             other => Err(JobError::new(format!("unknown action {other}"))),
///         }
///     }
/// }
/// ```
pub trait Performer: Send + Sync + 'static {
    /// Runs one attempt of `job`.
    ///
    /// Delivery is at least once: a job may run again after a node died in
    /// the middle of it, so make the work idempotent.
    fn perform(&self, job: &Job) -> impl Future<Output = Result<(), JobError>> + Send;

    /// The delay before the next attempt of `job`, which has just failed
    /// (`job.attempts` counts the failed attempt). Capped by the job's
    /// `max_backoff`. Default: [`retry::default_backoff`].
    fn backoff(&self, job: &Job) -> Duration {
        retry::default_backoff(job)
    }

    /// Called after a failure has been stored, with the updated job (for
    /// alerting). An error here is logged and changes nothing.
    fn on_failure(&self, job: &Job) -> impl Future<Output = Result<(), JobError>> + Send {
        let _ = job;
        async { Ok(()) }
    }
}

/// The error a performer returns: its message is stored in the job's `error`.
///
/// Any `std::error::Error` converts into it, so `?` works in `perform`.
pub struct JobError {
    message: String,
}

impl JobError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        JobError {
            message: message.into(),
        }
    }

    /// The message stored in the job.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl<E: std::error::Error> From<E> for JobError {
    fn from(e: E) -> Self {
        JobError::new(e.to_string())
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JobError({:?})", self.message)
    }
}

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A [`Performer`] behind a pointer, so that the handle is not generic.
pub(crate) trait DynPerformer: Send + Sync + 'static {
    fn perform<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobError>>;
    fn backoff(&self, job: &Job) -> Duration;
    fn on_failure<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobError>>;
}

impl<P: Performer> DynPerformer for P {
    fn perform<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(Performer::perform(self, job))
    }

    fn backoff(&self, job: &Job) -> Duration {
        Performer::backoff(self, job)
    }

    fn on_failure<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(Performer::on_failure(self, job))
    }
}
