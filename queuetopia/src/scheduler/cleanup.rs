//! Retention: deleting a scope's old done jobs.

use std::sync::Arc;
use std::time::Duration;

use crate::error::Result;
use crate::queuetopia::Shared;
use crate::store::{Store, random_token};

/// Jobs deleted per statement, so that no transaction grows large.
const BATCH: u32 = 1000;

/// Cleans every cleanup interval, the first time after a random part of it.
pub(super) async fn run(shared: Arc<Shared>, retention: Duration) {
    let every = shared.config.cleanup_interval;
    let first = u64::try_from(every.as_millis()).unwrap_or(u64::MAX).max(1);
    let first = Duration::from_millis(random_token().unsigned_abs() % first);
    tokio::time::sleep(first).await;
    loop {
        match delete_done(
            &*shared.db.store,
            &shared.scope,
            retention,
            shared.clock.now(),
        )
        .await
        {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(scope = %shared.scope, deleted, "old done jobs deleted"),
            Err(e) => tracing::warn!(scope = %shared.scope, error = %e, "cleanup failed"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Deletes the scope's done jobs older than `retention`, in batches.
pub(crate) async fn delete_done(
    store: &dyn Store,
    scope: &str,
    retention: Duration,
    now: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<u64> {
    let mut total = 0;
    loop {
        let deleted = store.job_delete_done(scope, retention, BATCH, now).await?;
        total += deleted;
        if deleted < u64::from(BATCH) {
            return Ok(total);
        }
    }
}
