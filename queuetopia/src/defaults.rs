//! Every default of the library, in one place.
//!
//! | setting | default |
//! |---|---|
//! | poll interval | [`POLL_INTERVAL`] (60 s) |
//! | job timeout | [`TIMEOUT`] (60 s) |
//! | max backoff | [`MAX_BACKOFF`] (24 h) |
//! | max attempts | [`MAX_ATTEMPTS`] (20) |
//! | lock lease margin | [`LEASE_MARGIN`] (1 s beyond the timeout) |
//! | exhaustion policy | [`crate::ExhaustionPolicy::Skip`] |
//! | retention, when cleanup is on | [`RETENTION`] (7 days) |
//! | audit retention | [`AUDIT_RETENTION`] (90 days) |
//! | cleanup interval | [`CLEANUP_INTERVAL`] (1 min) |
//! | shutdown grace period | [`SHUTDOWN_GRACE`] (30 s) |

use std::time::Duration;

/// How often an idle scheduler looks for runnable queues.
pub const POLL_INTERVAL: Duration = Duration::from_secs(60);
/// How long one attempt of a job may run.
pub const TIMEOUT: Duration = Duration::from_secs(60);
/// The cap of the delay between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(24 * 60 * 60);
/// Attempts allowed before a job is given up (or held).
pub const MAX_ATTEMPTS: u32 = 20;
/// How long a queue's lock outlives the timeout of the attempt that holds it.
pub const LEASE_MARGIN: Duration = Duration::from_secs(1);
/// How old a done job must be before the cleaner deletes it.
pub const RETENTION: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// How old an operator action's audit entry must be before the cleaner
/// deletes it (always on, whatever the jobs' retention).
pub const AUDIT_RETENTION: Duration = Duration::from_secs(90 * 24 * 60 * 60);
/// How often the cleaner runs, when retention is on.
pub const CLEANUP_INTERVAL: Duration = Duration::from_secs(60);
/// How long [`crate::Queuetopia::shutdown`] lets running attempts finish, by default.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// The longest text a scope, queue or action may hold, in bytes.
pub const MAX_NAME_BYTES: usize = 255;
/// The longest duration a job accepts (timeout, max backoff, delay): 10 years.
///
/// Longer values are refused so that `now + duration` always stays a valid
/// timestamp on every backend.
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);
/// The deepest nesting of objects and arrays a job's params may have (JSON
/// readers, serde's included, refuse much deeper documents).
pub const MAX_PARAMS_DEPTH: usize = 100;
/// The largest a job's params may be, serialized: 8 MiB (below MariaDB's
/// default packet size, and far beyond what a job should carry).
pub const MAX_PARAMS_BYTES: usize = 8 * 1024 * 1024;
/// The earliest `scheduled_at` accepted: 1970-01-01T00:00:00Z.
pub const MIN_SCHEDULED_AT: i64 = 0;
/// The latest `scheduled_at` accepted, in seconds since the Unix epoch:
/// 9999-12-31T23:59:59Z (MySQL's `DATETIME` ends there).
pub const MAX_SCHEDULED_AT: i64 = 253_402_300_799;

/// The most queues one claim takes in a single round trip.
pub const CLAIM_BATCH: u32 = 256;
/// The most results a node writes in one transaction: the results of the
/// attempts that ended while the previous batch was being written.
pub const RESULT_BATCH: usize = 64;
/// The most jobs one page of [`crate::Queuetopia::list_jobs`] holds.
pub const MAX_PAGE: u32 = 1000;
/// The jobs a page holds unless [`crate::JobFilter::limit`] says otherwise.
pub const DEFAULT_PAGE: u32 = 50;

/// A pooled connection idle for longer than this is pinged before use (pools
/// built by [`crate::connect`]); a busier one is used at once.
pub const IDLE_PING: Duration = Duration::from_secs(1);
