//! The closed set of backends: the store a [`crate::Db`] holds is one of
//! them, and each call goes to that backend's own [`Store`] methods by a
//! `match` (no boxed future per call, no downcast to reach a backend's own
//! entry points).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{
    ClaimBatch, FinishBatch, Finished, Inserted, JobAction, LockRenewal, QueueClaim, Store,
};
use crate::backend::{Backend, Capabilities};
use crate::error::Result;
use crate::job::{Job, NewJob};
use crate::list::{JobFilter, QueueInfo};

/// One backend's store. Held once per `Db`, behind an `Arc`: the
/// variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub(crate) enum StoreKind {
    #[cfg(feature = "postgres")]
    Postgres(super::postgres::PgStore),
    #[cfg(feature = "sqlite")]
    Sqlite(super::sqlite::SqliteStore),
    #[cfg(feature = "mysql")]
    MySql(super::mysql::MySqlStore),
}

/// `$body` with `$s` bound to the backend's store, whichever it is.
macro_rules! each {
    ($self:ident, $s:ident => $body:expr) => {
        match $self {
            #[cfg(feature = "postgres")]
            StoreKind::Postgres($s) => $body,
            #[cfg(feature = "sqlite")]
            StoreKind::Sqlite($s) => $body,
            #[cfg(feature = "mysql")]
            StoreKind::MySql($s) => $body,
        }
    };
}

impl Store for StoreKind {
    fn backend(&self) -> Backend {
        each!(self, s => s.backend())
    }

    fn capabilities(&self) -> Capabilities {
        each!(self, s => s.capabilities())
    }

    async fn schema_version(&self) -> Result<u32> {
        each!(self, s => s.schema_version().await)
    }

    async fn schema_migrate(&self, target: u32) -> Result<()> {
        each!(self, s => s.schema_migrate(target).await)
    }

    async fn job_insert(
        &self,
        scope: &str,
        jobs: &[NewJob],
        now: Option<DateTime<Utc>>,
        notify: bool,
    ) -> Result<Inserted> {
        each!(self, s => s.job_insert(scope, jobs, now, notify).await)
    }

    async fn queue_claim(&self, claim: QueueClaim<'_>) -> Result<ClaimBatch> {
        each!(self, s => s.queue_claim(claim).await)
    }

    async fn job_finish(&self, batch: FinishBatch<'_>) -> Result<Finished> {
        each!(self, s => s.job_finish(batch).await)
    }

    async fn job_get(&self, scope: &str, id: i64) -> Result<Option<(Job, bool)>> {
        each!(self, s => s.job_get(scope, id).await)
    }

    async fn job_list(&self, scope: &str, filter: &JobFilter) -> Result<Vec<(Job, bool)>> {
        each!(self, s => s.job_list(scope, filter).await)
    }

    async fn queue_list(&self, scope: &str, now: Option<DateTime<Utc>>) -> Result<Vec<QueueInfo>> {
        each!(self, s => s.queue_list(scope, now).await)
    }

    async fn job_act(
        &self,
        scope: &str,
        id: i64,
        action: JobAction,
        now: Option<DateTime<Utc>>,
    ) -> Result<Job> {
        each!(self, s => s.job_act(scope, id, action, now).await)
    }

    async fn job_delete_done(
        &self,
        scope: &str,
        older_than: Duration,
        limit: u32,
        now: Option<DateTime<Utc>>,
    ) -> Result<u64> {
        each!(self, s => s.job_delete_done(scope, older_than, limit, now).await)
    }

    async fn lock_renew(&self, renewal: LockRenewal<'_>) -> Result<bool> {
        each!(self, s => s.lock_renew(renewal).await)
    }

    async fn queue_prune(
        &self,
        scope: &str,
        limit: u32,
        now: Option<DateTime<Utc>>,
    ) -> Result<u64> {
        each!(self, s => s.queue_prune(scope, limit, now).await)
    }

    fn spawn_listener(
        &self,
        scope: &str,
        on_wake: std::sync::Arc<dyn Fn() + Send + Sync>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        each!(self, s => s.spawn_listener(scope, on_wake))
    }

    async fn lock_release_all(&self, scope: &str, node: &str) -> Result<u64> {
        each!(self, s => s.lock_release_all(scope, node).await)
    }
}
