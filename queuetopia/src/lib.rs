//! Queuetopia: a persistent, **blocking**, ordered job queue on SQL databases.
//!
//! TODO tour
#![warn(missing_docs)]

mod clock;
mod db;
pub mod defaults;
mod error;
mod event;
mod job;
mod list;
mod performer;
mod queuetopia;
mod retry;
mod scheduler;
mod store;
pub mod testing;

pub use clock::Clock;
pub use db::{Backend, Db, SCHEMA_VERSION, connect};
pub use error::{BackendError, BackendErrorKind, Error, Result};
pub use event::Event;
pub use job::{ExhaustionPolicy, Job, JobOptions, JobState, NewJob};
pub use list::{Blocked, JobEntry, JobFilter, JobPage, QueueInfo, QueueLock};
pub use performer::{JobError, Performer};
pub use queuetopia::{Builder, Queuetopia, TxConnection};
pub use retry::{Verdict, default_backoff};
