//! The closed set of backends: the store a [`crate::Db`] holds is one of
//! them, and each call goes to that backend's own [`Store`] methods by a
//! `match` (no boxed future per call, no downcast to reach a backend's own
//! entry points).

use super::Store;
use super::ops::*;
use crate::backend::{Backend, Capabilities};
use crate::error::Result;
use crate::job::Job;
use crate::list::QueueInfo;
use crate::operator::AuditEntry;

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

    fn schema_latest(&self) -> u32 {
        each!(self, s => s.schema_latest())
    }

    async fn schema_version(&self) -> Result<u32> {
        each!(self, s => s.schema_version().await)
    }

    async fn schema_migrate(&self, op: SchemaMigrate) -> Result<()> {
        each!(self, s => s.schema_migrate(op).await)
    }

    async fn job_insert(&self, op: JobInsert<'_>) -> Result<Inserted> {
        each!(self, s => s.job_insert(op).await)
    }

    async fn queue_claim(&self, op: QueueClaim<'_>) -> Result<ClaimBatch> {
        each!(self, s => s.queue_claim(op).await)
    }

    async fn job_finish(&self, batch: FinishBatch<'_>) -> Result<Finished> {
        each!(self, s => s.job_finish(batch).await)
    }

    async fn job_get(&self, op: JobGet<'_>) -> Result<Option<(Job, bool)>> {
        each!(self, s => s.job_get(op).await)
    }

    async fn job_list(&self, op: JobList<'_>) -> Result<Vec<(Job, bool)>> {
        each!(self, s => s.job_list(op).await)
    }

    async fn queue_list(&self, op: QueueList<'_>) -> Result<Vec<QueueInfo>> {
        each!(self, s => s.queue_list(op).await)
    }

    async fn job_act(&self, op: JobAct<'_>) -> Result<Job> {
        each!(self, s => s.job_act(op).await)
    }

    async fn queue_pause(&self, op: QueuePause<'_>) -> Result<()> {
        each!(self, s => s.queue_pause(op).await)
    }

    async fn audit_list(&self, op: AuditList<'_>) -> Result<Vec<AuditEntry>> {
        each!(self, s => s.audit_list(op).await)
    }

    async fn audit_delete_old(&self, op: DeleteOlder<'_>) -> Result<u64> {
        each!(self, s => s.audit_delete_old(op).await)
    }

    async fn job_delete_done(&self, op: DeleteOlder<'_>) -> Result<u64> {
        each!(self, s => s.job_delete_done(op).await)
    }

    async fn lock_renew(&self, op: LockRenewal<'_>) -> Result<bool> {
        each!(self, s => s.lock_renew(op).await)
    }

    async fn queue_prune(&self, op: QueuePrune<'_>) -> Result<u64> {
        each!(self, s => s.queue_prune(op).await)
    }

    fn spawn_listener(
        &self,
        scope: &str,
        on_wake: std::sync::Arc<dyn Fn() + Send + Sync>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        each!(self, s => s.spawn_listener(scope, on_wake))
    }

    async fn lock_release_all(&self, op: LockReleaseAll<'_>) -> Result<u64> {
        each!(self, s => s.lock_release_all(op).await)
    }
}
