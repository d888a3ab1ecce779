//! Cleaning: deleting a scope's old done jobs (when retention is on), its
//! old audit entries, and the rows of queues that have nothing left.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::node::Shared;
use crate::error::Result;
use crate::store::{DeleteOlder, QueuePrune, Store, random_token};

/// Rows deleted per statement, so that no transaction grows large.
const BATCH: u32 = 1000;

/// Cleans every cleanup interval, the first time after a random part of it.
pub(super) async fn run(shared: Arc<Shared>) {
    let every = shared.config.cleanup_interval;
    let first = u64::try_from(every.as_millis()).unwrap_or(u64::MAX).max(1);
    let first = Duration::from_millis(random_token().unsigned_abs() % first);
    tokio::time::sleep(first).await;
    let store = &*shared.db.store;
    let scope = shared.scope.as_str();
    loop {
        if let Some(retention) = shared.config.retention {
            match delete_done(store, scope, retention, shared.clock.now()).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(scope, deleted, "old done jobs deleted"),
                Err(e) => tracing::warn!(scope, error = %e, "deleting old done jobs failed"),
            }
        }
        let audit = shared.config.audit_retention;
        match delete_audit(store, scope, audit, shared.clock.now()).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(scope, deleted, "old audit entries deleted"),
            Err(e) => tracing::warn!(scope, error = %e, "deleting old audit entries failed"),
        }
        match prune_queues(store, scope, shared.clock.now()).await {
            Ok(0) => {}
            Ok(pruned) => tracing::debug!(scope, pruned, "empty queues pruned"),
            Err(e) => tracing::warn!(scope, error = %e, "pruning empty queues failed"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Deletes the scope's done jobs older than `retention`, in batches.
pub(crate) async fn delete_done(
    store: &impl Store,
    scope: &str,
    retention: Duration,
    now: Option<DateTime<Utc>>,
) -> Result<u64> {
    drain(|| store.job_delete_done(batch(scope, retention, now))).await
}

/// Deletes the scope's audit entries older than `retention`, in batches.
pub(crate) async fn delete_audit(
    store: &impl Store,
    scope: &str,
    retention: Duration,
    now: Option<DateTime<Utc>>,
) -> Result<u64> {
    drain(|| store.audit_delete_old(batch(scope, retention, now))).await
}

/// One batch of a retention delete.
fn batch(scope: &str, older_than: Duration, now: Option<DateTime<Utc>>) -> DeleteOlder<'_> {
    DeleteOlder {
        scope,
        older_than,
        limit: BATCH,
        now,
    }
}

/// Deletes the rows of the scope's queues that have nothing left.
pub(crate) async fn prune_queues(
    store: &impl Store,
    scope: &str,
    now: Option<DateTime<Utc>>,
) -> Result<u64> {
    drain(|| {
        store.queue_prune(QueuePrune {
            scope,
            limit: BATCH,
            now,
        })
    })
    .await
}

/// Runs a batched delete until a batch comes back short.
async fn drain<F, Fut>(mut batch: F) -> Result<u64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<u64>>,
{
    let mut total = 0;
    loop {
        let deleted = batch().await?;
        total += deleted;
        if deleted < u64::from(BATCH) {
            return Ok(total);
        }
    }
}
