//! The clock that leases and schedules are measured on.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Where "now" comes from.
///
/// In production this is the database's clock ([`Clock::database`], the
/// default), so that nodes with skewed clocks still agree on leases and
/// schedules. Tests can pin time with [`Clock::manual`] and move it forward
/// with [`Clock::advance`] instead of sleeping: every decision that depends on
/// time (a job's schedule, its backoff, a lock's lease) then uses that clock.
///
/// ```
/// use std::time::Duration;
/// use queuetopia::Clock;
///
/// let clock = Clock::manual("2030-01-01T00:00:00Z".parse().unwrap());
/// clock.advance(Duration::from_secs(5));
/// assert_eq!(clock.now().unwrap().to_rfc3339(), "2030-01-01T00:00:05+00:00");
/// ```
#[derive(Debug, Clone, Default)]
pub struct Clock {
    manual: Option<Arc<Mutex<DateTime<Utc>>>>,
}

impl Clock {
    /// The database's clock.
    pub fn database() -> Self {
        Clock { manual: None }
    }

    /// A clock pinned at `start`, moved only by [`Clock::set`] and
    /// [`Clock::advance`]. Clones share the same time.
    pub fn manual(start: DateTime<Utc>) -> Self {
        Clock {
            manual: Some(Arc::new(Mutex::new(start))),
        }
    }

    /// The pinned time, or `None` for the database's clock.
    pub fn now(&self) -> Option<DateTime<Utc>> {
        self.manual
            .as_ref()
            .map(|t| *t.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Sets a manual clock to `to`. Does nothing on the database's clock.
    pub fn set(&self, to: DateTime<Utc>) {
        if let Some(t) = &self.manual {
            *t.lock().unwrap_or_else(|e| e.into_inner()) = to;
        }
    }

    /// Moves a manual clock forward. Does nothing on the database's clock.
    pub fn advance(&self, by: Duration) {
        if let Some(t) = &self.manual {
            let mut t = t.lock().unwrap_or_else(|e| e.into_inner());
            *t += chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        }
    }
}
