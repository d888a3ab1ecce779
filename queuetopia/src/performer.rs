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
/// A plain error retries the job after its backoff (the performer's
/// [`Performer::backoff`]), until it succeeds or uses up its attempts. The
/// performer can say more:
///
/// - [`JobError::retry_in`]: the next attempt comes after this delay (a rate
///   limit's `Retry-After`), capped by the job's `max_backoff`;
/// - [`JobError::give_up`]: no more attempts, whatever the job has left and
///   whatever the exhaustion policy: the job is given up at once and its
///   queue moves on (params that can never work, an account that is gone).
///
/// Any `std::error::Error` converts into it, so `?` works in `perform`; the
/// error is kept as [`JobError::source`], and the stored message is the
/// error's with each of its sources after a `: `.
///
/// ```
/// use std::time::Duration;
/// use queuetopia::JobError;
///
/// let later = JobError::new("rate limited").retry_in(Duration::from_secs(30));
/// assert_eq!(later.retry_delay(), Some(Duration::from_secs(30)));
/// let never = JobError::new("no such account").give_up();
/// assert!(never.gives_up());
/// ```
pub struct JobError {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    next: AfterFailure,
}

/// What comes after a failure: what the performer asked for, or what the
/// scheduler decides for failures of its own (a timeout, a shutdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterFailure {
    /// The performer's backoff.
    Backoff,
    /// This delay, capped by the job's `max_backoff`.
    RetryIn(Duration),
    /// No more attempts.
    GiveUp,
}

impl JobError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        JobError {
            message: message.into(),
            source: None,
            next: AfterFailure::Backoff,
        }
    }

    /// The next attempt comes after `delay` instead of the backoff (capped
    /// by the job's `max_backoff`). A job with no attempts left is still
    /// given up or held, as its exhaustion policy says.
    #[must_use]
    pub fn retry_in(mut self, delay: Duration) -> Self {
        self.next = AfterFailure::RetryIn(delay);
        self
    }

    /// No more attempts: the job is given up at once, whatever attempts it
    /// has left and whatever the exhaustion policy, and its queue moves on.
    #[must_use]
    pub fn give_up(mut self) -> Self {
        self.next = AfterFailure::GiveUp;
        self
    }

    /// The message stored in the job.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error this one was made from, if any.
    pub fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }

    /// The delay asked for with [`JobError::retry_in`].
    pub fn retry_delay(&self) -> Option<Duration> {
        match self.next {
            AfterFailure::RetryIn(d) => Some(d),
            _ => None,
        }
    }

    /// What the performer asked for after this failure.
    pub(crate) fn next(&self) -> AfterFailure {
        self.next
    }

    /// Whether [`JobError::give_up`] was asked for.
    pub fn gives_up(&self) -> bool {
        self.next == AfterFailure::GiveUp
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for JobError {
    fn from(e: E) -> Self {
        let mut message = e.to_string();
        let mut cause = e.source();
        while let Some(c) = cause {
            message.push_str(": ");
            message.push_str(&c.to_string());
            cause = c.source();
        }
        JobError {
            message,
            source: Some(Box::new(e)),
            next: AfterFailure::Backoff,
        }
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("JobError");
        d.field("message", &self.message);
        if let Some(source) = &self.source {
            d.field("source", source);
        }
        if self.next != AfterFailure::Backoff {
            d.field("next", &self.next);
        }
        d.finish()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("could not send")]
    struct SendFailed(#[source] std::io::Error);

    #[test]
    fn a_converted_error_keeps_its_source_and_chain() {
        let e = JobError::from(SendFailed(std::io::Error::other("connection reset")));
        assert_eq!(e.message(), "could not send: connection reset");
        let source = e.source().expect("kept");
        assert_eq!(source.to_string(), "could not send");
        assert!(source.source().is_some());
        assert_eq!(e.retry_delay(), None);
        assert!(!e.gives_up());
    }

    #[test]
    fn the_performer_can_ask_for_a_delay_or_to_give_up() {
        let e = JobError::new("later").retry_in(Duration::from_secs(5));
        assert_eq!(e.retry_delay(), Some(Duration::from_secs(5)));
        assert!(!e.gives_up());
        let e = JobError::new("never").give_up();
        assert!(e.gives_up());
        assert_eq!(e.retry_delay(), None);
        assert!(format!("{e:?}").contains("GiveUp"));
    }
}
