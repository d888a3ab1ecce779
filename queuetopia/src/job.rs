//! Jobs: what is stored, what a caller asks for, and how both are checked.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::defaults;
use crate::error::{Error, Result};

/// A job as stored in the database.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    /// Unique and stable id, returned at creation.
    pub id: i64,
    /// The scope (Queuetopia instance) the job belongs to.
    pub scope: String,
    /// The queue, inside the scope, the job belongs to.
    pub queue: String,
    /// What the performer should do.
    pub action: String,
    /// The job's parameters: always a JSON object.
    pub params: Map<String, Value>,
    /// Arrival order among the queue's open jobs: jobs run by
    /// `(scheduled_at, sequence)`, and a job committed after another gets a
    /// higher number. It is counted by the queue's row, which the cleaner
    /// removes once the queue has no open job and no lock: the count then
    /// starts again at 1 with the queue's next job. Compare it only between
    /// jobs of a queue that were open at the same time; for an order over
    /// the queue's whole history, use `id` with `inserted_at`.
    pub sequence: i64,
    /// The job does not run before this instant.
    pub scheduled_at: DateTime<Utc>,
    /// How long one attempt may run.
    pub timeout: Duration,
    /// The cap of the delay between two attempts.
    pub max_backoff: Duration,
    /// Attempts allowed before the job is given up (or held).
    pub max_attempts: u32,
    /// What happens when the job has used all its attempts; `None` means the
    /// scope's policy.
    pub on_exhausted: Option<ExhaustionPolicy>,
    /// Attempts made so far, counting one that is running now.
    pub attempts: u32,
    /// When the last attempt started.
    pub attempted_at: Option<DateTime<Utc>>,
    /// Which node ran the last attempt.
    pub attempted_by: Option<String>,
    /// Earliest time of the next attempt, after a failure.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When an attempt succeeded.
    pub done_at: Option<DateTime<Utc>>,
    /// When the job was given up after using all its attempts (or skipped by
    /// an operator).
    pub given_up_at: Option<DateTime<Utc>>,
    /// The last failure's message; cleared on success.
    pub error: Option<String>,
    /// When the job was created.
    pub inserted_at: DateTime<Utc>,
    /// When the job was last written.
    pub updated_at: DateTime<Utc>,
}

impl Job {
    /// The job once `node` counted a new attempt of it at `now`: what the
    /// attempt's update writes, for the store that cannot return the row it
    /// wrote (MySQL).
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    pub(crate) fn attempted(mut self, node: &str, now: DateTime<Utc>) -> Job {
        self.attempts += 1;
        self.attempted_at = Some(now);
        self.attempted_by = Some(node.to_owned());
        self.updated_at = now;
        self
    }

    /// Deserializes the params into a typed value.
    ///
    /// # Errors
    ///
    /// Returns the serde error when the params do not fit `T`.
    pub fn params_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_value(Value::Object(self.params.clone()))
    }

    /// Whether the job has used all its attempts.
    pub fn is_exhausted(&self) -> bool {
        self.attempts >= self.max_attempts
    }
}

/// The state of a job, as listed by [`crate::Queuetopia::list_jobs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Never attempted yet.
    Pending,
    /// An attempt is running now (its queue's lock names it).
    Running,
    /// At least one attempt failed; waiting for the next one.
    Retrying,
    /// Used all its attempts under the `hold` policy: its queue waits for an
    /// operator.
    Held,
    /// An attempt succeeded.
    Done,
    /// Given up after using all its attempts, or skipped by an operator.
    GivenUp,
}

impl JobState {
    /// The state's name, as used in filters and in the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Retrying => "retrying",
            JobState::Held => "held",
            JobState::Done => "done",
            JobState::GivenUp => "given_up",
        }
    }
}

impl std::str::FromStr for JobState {
    type Err = Error;

    /// A state by its name ([`JobState::as_str`]).
    fn from_str(s: &str) -> Result<Self> {
        [
            JobState::Pending,
            JobState::Running,
            JobState::Retrying,
            JobState::Held,
            JobState::Done,
            JobState::GivenUp,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
        .ok_or_else(|| {
            Error::validation(
                "state",
                "must be pending, running, retrying, held, done or given_up",
            )
        })
    }
}

/// What happens to a job that failed its last allowed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExhaustionPolicy {
    /// The job is given up: it stays in the table with its error, and its
    /// queue moves on at once. The default, as in the original Queuetopia.
    #[default]
    Skip,
    /// The queue stays blocked until an operator retries or skips the job.
    Hold,
}

impl ExhaustionPolicy {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ExhaustionPolicy::Skip => "skip",
            ExhaustionPolicy::Hold => "hold",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "skip" => Some(ExhaustionPolicy::Skip),
            "hold" => Some(ExhaustionPolicy::Hold),
            _ => None,
        }
    }
}

/// When a new job may first run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Schedule {
    /// As soon as it reaches the head of its queue (the database's now, kept
    /// monotonic per queue so that arrival order is commit order).
    #[default]
    Now,
    /// At this instant.
    At(DateTime<Utc>),
    /// This long after the database's now.
    In(Duration),
}

/// Options of a new job. Every field has a default (see [`crate::defaults`]).
///
/// ```
/// use std::time::Duration;
/// use queuetopia::{ExhaustionPolicy, JobOptions};
///
/// let options = JobOptions::default()
///     .timeout(Duration::from_secs(5))
///     .max_attempts(5)
///     .delay(Duration::from_secs(30))
///     .on_exhausted(ExhaustionPolicy::Hold);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOptions {
    pub(crate) schedule: Schedule,
    pub(crate) timeout: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) max_attempts: u32,
    pub(crate) on_exhausted: Option<ExhaustionPolicy>,
}

impl Default for JobOptions {
    fn default() -> Self {
        JobOptions {
            schedule: Schedule::Now,
            timeout: defaults::TIMEOUT,
            max_backoff: defaults::MAX_BACKOFF,
            max_attempts: defaults::MAX_ATTEMPTS,
            on_exhausted: None,
        }
    }
}

impl JobOptions {
    /// The job does not run before `at`.
    pub fn scheduled_at(mut self, at: DateTime<Utc>) -> Self {
        self.schedule = Schedule::At(at);
        self
    }

    /// The job does not run before `delay` has passed, measured on the
    /// database's clock.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.schedule = Schedule::In(delay);
        self
    }

    /// How long one attempt may run (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The cap of the delay between two attempts (default 24 h).
    pub fn max_backoff(mut self, max_backoff: Duration) -> Self {
        self.max_backoff = max_backoff;
        self
    }

    /// Attempts allowed before the job is given up (default 20; at least 1).
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// What happens when the job uses all its attempts, overriding the scope's
    /// policy.
    pub fn on_exhausted(mut self, policy: ExhaustionPolicy) -> Self {
        self.on_exhausted = Some(policy);
        self
    }
}

/// A job to create, already checked: only [`NewJob::new`] makes one.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub(crate) queue: String,
    pub(crate) action: String,
    pub(crate) params: Map<String, Value>,
    pub(crate) options: JobOptions,
}

impl NewJob {
    /// Checks a job to create.
    ///
    /// `params` may be any serializable value that turns into a JSON object
    /// (a struct, a map, or a `serde_json::Value::Object`).
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] naming the field when the queue or action is empty,
    /// longer than 255 bytes or contains a NUL character; when the params are
    /// not a JSON object, contain a NUL character, nest deeper than
    /// [`defaults::MAX_PARAMS_DEPTH`] or weigh more than
    /// [`defaults::MAX_PARAMS_BYTES`]; when a duration is zero (for the
    /// timeout) or longer than [`defaults::MAX_DURATION`]; when `scheduled_at`
    /// is before 1970 or after 9999; or when `max_attempts` is not between 1
    /// and 2^31 - 1. Durations are `std::time::Duration`, so they cannot be
    /// negative.
    pub fn new(
        queue: impl Into<String>,
        action: impl Into<String>,
        params: impl Serialize,
        options: JobOptions,
    ) -> Result<Self> {
        let queue = queue.into();
        let action = action.into();
        check_name("queue", &queue)?;
        check_name("action", &action)?;
        let params = check_params(params)?;
        check_options(&options)?;
        Ok(NewJob {
            queue,
            action,
            params,
            options,
        })
    }

    /// The queue the job goes to.
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// The job as a creation stored it, from what the store decided (`id`,
    /// `sequence`, when it runs, when it was stored) and what was asked for:
    /// durations as the store keeps them (whole milliseconds), never
    /// attempted. The params are the ones asked for, as given.
    pub(crate) fn stored(
        &self,
        scope: &str,
        id: i64,
        sequence: i64,
        scheduled_at: DateTime<Utc>,
        inserted_at: DateTime<Utc>,
    ) -> Job {
        let o = &self.options;
        Job {
            id,
            scope: scope.to_owned(),
            queue: self.queue.clone(),
            action: self.action.clone(),
            params: self.params.clone(),
            sequence,
            scheduled_at,
            timeout: duration(millis(o.timeout)),
            max_backoff: duration(millis(o.max_backoff)),
            max_attempts: o.max_attempts,
            on_exhausted: o.on_exhausted,
            attempts: 0,
            attempted_at: None,
            attempted_by: None,
            next_attempt_at: None,
            done_at: None,
            given_up_at: None,
            error: None,
            inserted_at,
            updated_at: inserted_at,
        }
    }
}

/// Params as stored: a JSON object without NUL characters, at most
/// [`defaults::MAX_PARAMS_DEPTH`] deep and [`defaults::MAX_PARAMS_BYTES`]
/// long as JSON.
pub(crate) fn check_params(params: impl Serialize) -> Result<Map<String, Value>> {
    let params = match serde_json::to_value(params) {
        Ok(Value::Object(map)) => map,
        Ok(other) => {
            return Err(Error::validation(
                "params",
                format!("must be a JSON object, got {}", json_kind(&other)),
            ));
        }
        Err(e) => return Err(Error::validation("params", e.to_string())),
    };
    if contains_nul(&params) {
        return Err(Error::validation(
            "params",
            "must not contain NUL characters",
        ));
    }
    if depth(&params) > defaults::MAX_PARAMS_DEPTH {
        return Err(Error::validation(
            "params",
            format!(
                "must nest at most {} levels deep",
                defaults::MAX_PARAMS_DEPTH
            ),
        ));
    }
    let size = Value::Object(params.clone()).to_string().len();
    if size > defaults::MAX_PARAMS_BYTES {
        return Err(Error::validation(
            "params",
            format!(
                "must be at most {} bytes as JSON, got {size}",
                defaults::MAX_PARAMS_BYTES
            ),
        ));
    }
    Ok(params)
}

fn check_options(options: &JobOptions) -> Result<()> {
    if options.timeout.is_zero() {
        return Err(Error::validation("timeout", "must be longer than zero"));
    }
    check_duration("timeout", options.timeout)?;
    check_duration("max_backoff", options.max_backoff)?;
    match options.schedule {
        Schedule::In(delay) => check_duration("delay", delay)?,
        Schedule::At(at) => {
            let secs = at.timestamp();
            if !(defaults::MIN_SCHEDULED_AT..=defaults::MAX_SCHEDULED_AT).contains(&secs) {
                return Err(Error::validation(
                    "scheduled_at",
                    "must be between 1970-01-01 and 9999-12-31",
                ));
            }
        }
        Schedule::Now => {}
    }
    if options.max_attempts == 0 || options.max_attempts > i32::MAX as u32 {
        return Err(Error::validation(
            "max_attempts",
            format!(
                "must be between 1 and {}, got {}",
                i32::MAX,
                options.max_attempts
            ),
        ));
    }
    Ok(())
}

fn check_duration(field: &'static str, d: Duration) -> Result<()> {
    if d > defaults::MAX_DURATION {
        return Err(Error::validation(
            field,
            format!("must be at most {} s", defaults::MAX_DURATION.as_secs()),
        ));
    }
    Ok(())
}

/// Checks a scope, queue or action name: non-empty, at most 255 bytes, no NUL.
pub(crate) fn check_name(field: &'static str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::validation(field, "must not be empty"));
    }
    if value.len() > defaults::MAX_NAME_BYTES {
        return Err(Error::validation(
            field,
            format!(
                "must be at most {} bytes, got {}",
                defaults::MAX_NAME_BYTES,
                value.len()
            ),
        ));
    }
    if value.contains('\0') {
        return Err(Error::validation(field, "must not contain NUL characters"));
    }
    Ok(())
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Whether any key or string inside holds a NUL character, which PostgreSQL's
/// `jsonb` refuses (and which would not round-trip elsewhere either).
fn contains_nul(map: &Map<String, Value>) -> bool {
    fn value_has_nul(v: &Value) -> bool {
        match v {
            Value::String(s) => s.contains('\0'),
            Value::Array(items) => items.iter().any(value_has_nul),
            Value::Object(map) => contains_nul(map),
            _ => false,
        }
    }
    map.iter()
        .any(|(k, v)| k.contains('\0') || value_has_nul(v))
}

/// How deeply objects and arrays nest in the params (an empty object is 1).
fn depth(map: &Map<String, Value>) -> usize {
    fn value_depth(v: &Value) -> usize {
        match v {
            Value::Array(items) => 1 + items.iter().map(value_depth).max().unwrap_or(0),
            Value::Object(map) => depth(map),
            _ => 0,
        }
    }
    1 + map.values().map(value_depth).max().unwrap_or(0)
}

/// Milliseconds of a checked duration, as stored in the database.
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).expect("durations are checked to be at most 10 years")
}

/// A duration stored as milliseconds (a negative count reads as zero).
pub(crate) fn duration(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(r: Result<NewJob>) -> &'static str {
        match r {
            Err(Error::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn accepts_a_plain_job() {
        let job = NewJob::new("q", "a", json!({"x": 1}), JobOptions::default()).unwrap();
        assert_eq!(job.queue(), "q");
    }

    #[test]
    fn accepts_typed_params() {
        #[derive(Serialize)]
        struct Mail {
            to: String,
        }
        let job = NewJob::new("q", "a", Mail { to: "a@b".into() }, JobOptions::default()).unwrap();
        assert_eq!(job.params["to"], "a@b");
    }

    #[test]
    fn names_the_bad_field() {
        let o = JobOptions::default;
        assert_eq!(field_of(NewJob::new("", "a", json!({}), o())), "queue");
        assert_eq!(field_of(NewJob::new("q", "", json!({}), o())), "action");
        assert_eq!(field_of(NewJob::new("q\0", "a", json!({}), o())), "queue");
        assert_eq!(
            field_of(NewJob::new("x".repeat(256), "a", json!({}), o())),
            "queue"
        );
        assert!(NewJob::new("x".repeat(255), "a", json!({}), o()).is_ok());
        assert_eq!(
            field_of(NewJob::new("q", "é".repeat(128), json!({}), o())),
            "action"
        );
        assert_eq!(field_of(NewJob::new("q", "a", json!([1]), o())), "params");
        assert_eq!(field_of(NewJob::new("q", "a", json!(3), o())), "params");
        assert_eq!(field_of(NewJob::new("q", "a", json!(null), o())), "params");
        assert_eq!(
            field_of(NewJob::new("q", "a", json!({"k": "a\0b"}), o())),
            "params"
        );
        assert_eq!(
            field_of(NewJob::new("q", "a", json!({"k": [{"a\0": 1}]}), o())),
            "params"
        );
        assert_eq!(
            field_of(NewJob::new("q", "a", json!({}), o().max_attempts(0))),
            "max_attempts"
        );
        assert_eq!(
            field_of(NewJob::new("q", "a", json!({}), o().max_attempts(u32::MAX))),
            "max_attempts"
        );
        assert_eq!(
            field_of(NewJob::new(
                "q",
                "a",
                json!({}),
                o().timeout(Duration::ZERO)
            )),
            "timeout"
        );
        assert_eq!(
            field_of(NewJob::new("q", "a", json!({}), o().timeout(Duration::MAX))),
            "timeout"
        );
        assert_eq!(
            field_of(NewJob::new(
                "q",
                "a",
                json!({}),
                o().max_backoff(Duration::MAX)
            )),
            "max_backoff"
        );
        assert_eq!(
            field_of(NewJob::new("q", "a", json!({}), o().delay(Duration::MAX))),
            "delay"
        );
    }
}
