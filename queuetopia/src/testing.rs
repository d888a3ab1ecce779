//! Test helpers: assert that a job was (or was not) created, without running
//! a scheduler.
//!
//! ```no_run
//! # async fn example(queuetopia: queuetopia::Queuetopia) -> queuetopia::Result<()> {
//! use queuetopia::testing::{JobMatch, assert_job_created, refute_job_created};
//! use serde_json::json;
//!
//! assert_job_created(
//!     &queuetopia,
//!     &JobMatch::queue("account:42").action("send_welcome").params(json!({"to": "a@b.c"})),
//! )
//! .await;
//! refute_job_created(&queuetopia, &JobMatch::queue("account:42").action("send_bill")).await;
//! # Ok(()) }
//! ```

use serde_json::{Map, Value};

use crate::error::Result;
use crate::handle::Queuetopia;
use crate::job::Job;
use crate::list::JobFilter;

/// What a created job must look like: its queue, and optionally its action
/// and a subset of its params.
#[derive(Debug, Clone, PartialEq)]
pub struct JobMatch {
    queue: String,
    action: Option<String>,
    params: Option<Map<String, Value>>,
}

impl JobMatch {
    /// Jobs of this queue.
    pub fn queue(queue: impl Into<String>) -> Self {
        JobMatch {
            queue: queue.into(),
            action: None,
            params: None,
        }
    }

    /// … with this action.
    pub fn action(mut self, action: impl Into<String>) -> Self {
        self.action = Some(action.into());
        self
    }

    /// … whose params contain these (a JSON object; nested objects match as
    /// subsets too, arrays and scalars must be equal).
    ///
    /// # Panics
    ///
    /// When `params` is not a JSON object: that is a mistake in the test.
    pub fn params(mut self, params: Value) -> Self {
        match params {
            Value::Object(map) => self.params = Some(map),
            other => panic!("JobMatch::params takes a JSON object, got {other}"),
        }
        self
    }

    /// Whether `job` matches.
    pub fn matches(&self, job: &Job) -> bool {
        job.queue == self.queue
            && self.action.as_ref().is_none_or(|a| *a == job.action)
            && self
                .params
                .as_ref()
                .is_none_or(|p| is_subset(p, &job.params))
    }
}

fn is_subset(want: &Map<String, Value>, have: &Map<String, Value>) -> bool {
    want.iter().all(|(k, w)| match (w, have.get(k)) {
        (Value::Object(w), Some(Value::Object(h))) => is_subset(w, h),
        (w, Some(h)) => w == h,
        (_, None) => false,
    })
}

/// The jobs of the scope (done or not) that match, oldest first.
///
/// # Errors
///
/// [`crate::Error::Backend`] when the database fails.
pub async fn created_jobs(queuetopia: &Queuetopia, matching: &JobMatch) -> Result<Vec<Job>> {
    let mut filter = JobFilter::default()
        .queue(matching.queue.clone())
        .oldest_first()
        .limit(crate::defaults::MAX_PAGE);
    if let Some(action) = &matching.action {
        filter = filter.action(action.clone());
    }
    let mut found = Vec::new();
    loop {
        let page = queuetopia.list_jobs(&filter).await?;
        found.extend(
            page.jobs
                .into_iter()
                .map(|e| e.job)
                .filter(|j| matching.matches(j)),
        );
        match page.next {
            Some(cursor) => filter = filter.after(cursor),
            None => return Ok(found),
        }
    }
}

/// Asserts that at least one job matching `matching` was created in the
/// scope; returns the first one.
///
/// # Panics
///
/// When no job matches (listing what the queue does hold), or the database fails.
pub async fn assert_job_created(queuetopia: &Queuetopia, matching: &JobMatch) -> Job {
    let found = created_jobs(queuetopia, matching)
        .await
        .expect("listing jobs failed");
    match found.into_iter().next() {
        Some(job) => job,
        None => {
            let queue = created_jobs(queuetopia, &JobMatch::queue(matching.queue.clone()))
                .await
                .unwrap_or_default();
            let seen: Vec<String> = queue
                .iter()
                .map(|j| format!("{} {}", j.action, Value::Object(j.params.clone())))
                .collect();
            panic!(
                "expected a job matching {matching:?} in scope {:?}; queue {:?} holds {seen:#?}",
                queuetopia.scope(),
                matching.queue,
            )
        }
    }
}

/// Asserts that no job matching `matching` was created in the scope.
///
/// # Panics
///
/// When a job matches, or the database fails.
pub async fn refute_job_created(queuetopia: &Queuetopia, matching: &JobMatch) {
    let found = created_jobs(queuetopia, matching)
        .await
        .expect("listing jobs failed");
    assert!(
        found.is_empty(),
        "expected no job matching {matching:?} in scope {:?}, found {found:#?}",
        queuetopia.scope()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn params_match_as_a_subset() {
        let have = json!({"to": "a", "n": {"x": 1, "y": 2}, "l": [1, 2]});
        let have = have.as_object().unwrap();
        let want = |v: Value| v.as_object().unwrap().clone();
        assert!(is_subset(&want(json!({})), have));
        assert!(is_subset(&want(json!({"to": "a"})), have));
        assert!(is_subset(&want(json!({"n": {"x": 1}})), have));
        assert!(!is_subset(&want(json!({"n": {"x": 2}})), have));
        assert!(!is_subset(&want(json!({"l": [1]})), have));
        assert!(!is_subset(&want(json!({"missing": 1})), have));
    }
}
