//! A node's shared state: what the [`crate::Queuetopia`] handle and its
//! scheduler's tasks (claiming, running, writing results, cleaning) share.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Duration;

use tokio::sync::{Notify, broadcast};

use crate::clock::Clock;
use crate::db::Db;
use crate::event::Event;
use crate::job::ExhaustionPolicy;

/// How a scope's scheduler behaves.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) poll_interval: Duration,
    pub(crate) max_concurrent_jobs: Option<u32>,
    pub(crate) on_exhausted: ExhaustionPolicy,
    pub(crate) lease_margin: Duration,
    pub(crate) lease_cap: Option<Duration>,
    pub(crate) retention: Option<Duration>,
    pub(crate) audit_retention: Duration,
    pub(crate) cleanup_interval: Duration,
    /// Takes part in cross-node wake-ups: listens, and notifies on creation.
    pub(crate) listen: bool,
}

/// What the handle and its scheduler share.
pub(crate) struct Shared {
    pub(crate) db: Db,
    pub(crate) scope: String,
    pub(crate) node: String,
    pub(crate) clock: Clock,
    pub(crate) config: Config,
    pub(crate) wake: Notify,
    pub(crate) events: broadcast::Sender<Event>,
    pub(crate) claims: AtomicU64,
    pub(crate) attempts: AtomicU64,
    pub(crate) results: AtomicU64,
    pub(crate) result_commits: AtomicU64,
    /// Attempts running on this node now.
    pub(crate) running: AtomicU64,
    /// The scheduler is stopping: attempts claim nothing more.
    pub(crate) stopping: AtomicBool,
}

impl Shared {
    pub(crate) fn emit(&self, event: Event) {
        // Nobody listening is fine.
        let _ = self.events.send(event);
    }
}
