//! Claiming: lock as many ready queues as there are free slots, and start
//! an attempt for each.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::node::Shared;
use super::result_writer::Writer;
use super::run;
use crate::defaults::CLAIM_BATCH;
use crate::error::Result;
use crate::performer::DynPerformer;
use crate::store::{QueueClaim, Store, random_token};

/// Claims until no ready queue or no free slot is left; returns how long the
/// scheduler may sleep before the next time it knows a queue becomes ready.
pub(super) async fn round(
    shared: &Arc<Shared>,
    performer: &Arc<dyn DynPerformer>,
    writer: &Writer,
    attempts: &mut JoinSet<()>,
    interrupt: &watch::Receiver<bool>,
) -> Result<Duration> {
    let poll = shared.config.poll_interval;
    loop {
        let running = u32::try_from(shared.running.load(Ordering::Acquire)).unwrap_or(u32::MAX);
        let free = match shared.config.max_concurrent_jobs {
            Some(max) => max.saturating_sub(running),
            None => CLAIM_BATCH,
        };
        if free == 0 {
            // A finishing attempt frees its slot, then wakes the loop.
            return Ok(poll);
        }
        let limit = free.min(CLAIM_BATCH);
        let token = random_token();
        // Before the request: the lease the database grants starts later, so
        // deadlines measured from here end before it does.
        let claimed_at = tokio::time::Instant::now();
        let batch = shared
            .db
            .store
            .queue_claim(QueueClaim {
                scope: &shared.scope,
                node: &shared.node,
                limit,
                now: shared.clock.now(),
                token,
                lease_margin: shared.config.lease_margin,
                lease_cap: shared.config.lease_cap,
            })
            .await?;
        shared.claims.fetch_add(1, Ordering::Relaxed);
        shared
            .attempts
            .fetch_add(batch.claimed.len() as u64, Ordering::Relaxed);
        if !batch.claimed.is_empty() {
            tracing::debug!(
                scope = %shared.scope, claimed = batch.claimed.len(), examined = batch.examined,
                "claimed queues"
            );
        }
        for claimed in batch.claimed {
            shared.running.fetch_add(1, Ordering::AcqRel);
            crate::metrics::running(&shared.scope, 1.0);
            attempts.spawn(run::attempt(
                shared.clone(),
                performer.clone(),
                writer.clone(),
                claimed,
                token,
                claimed_at,
                interrupt.clone(),
            ));
        }
        if let Some(wake) = batch.next_wake {
            let until_next = wake
                .next
                .and_then(|next| (next - wake.now).to_std().ok())
                .unwrap_or(poll);
            return Ok(until_next.min(poll));
        }
    }
}
