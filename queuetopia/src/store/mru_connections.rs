//! Connections taken most recently used first.
//!
//! sqlx's pool hands out its idle connections oldest first. A store that
//! runs one statement at a time (a queue draining alone, one task creating
//! jobs) goes round every connection the pool ever opened, and each
//! statement wakes the server process that has slept the longest, and each
//! connection the pool takes back is pinged on its way in (a round trip per
//! statement, in a task of its own). So the PostgreSQL store, and the SQLite
//! store for its writes, keep the few connections they used last and take
//! the latest first. The MySQL store does not: there it made single
//! creations slower. (The measurements are in BENCHMARKS.md.)
//!
//! Only a connection whose work ended well is kept ([`Taken::finish`]): one
//! dropped after an error, or with a statement cut off mid-flight (a
//! cancelled future), goes back to the pool, which tests it on its way in.
//!
//! A kept connection goes back to the pool once it has been idle for
//! [`IDLE_PING`]: the pool pings a connection idle that long before its
//! next use (see `ping_when_idle` in `db.rs`), so a database restart still
//! has every dead connection replaced, as before. A reaper task gives back
//! the kept connections nobody asks for, so that they never hold up the
//! pool's other users for longer than that.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Instant;

use sqlx::pool::PoolConnection;
use sqlx::{Database, Pool};

use crate::defaults::IDLE_PING;

/// How many connections are kept at most.
const KEEP: usize = 2;

type Kept<DB> = Mutex<Vec<(PoolConnection<DB>, Instant)>>;

/// A pool, and the connections taken from it that were used last.
pub(crate) struct Recent<DB: Database> {
    pool: Pool<DB>,
    kept: Arc<Kept<DB>>,
    /// Whether the reaper runs.
    reaping: AtomicBool,
}

impl<DB: Database> Recent<DB> {
    pub(crate) fn new(pool: Pool<DB>) -> Self {
        Recent {
            pool,
            kept: Arc::new(Mutex::new(Vec::with_capacity(KEEP))),
            reaping: AtomicBool::new(false),
        }
    }

    /// The connection used last, if it was used within [`IDLE_PING`]; else
    /// one from the pool.
    pub(crate) async fn acquire(&self) -> Result<Taken<'_, DB>, sqlx::Error> {
        let latest = self
            .kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match latest {
            Some((conn, since)) if since.elapsed() < IDLE_PING => conn,
            // Idle too long: back to the pool, which pings it before its
            // next use.
            Some((stale, _)) => {
                drop(stale);
                self.pool.acquire().await?
            }
            None => self.pool.acquire().await?,
        };
        Ok(Taken {
            recent: self,
            conn: Some(conn),
        })
    }

    fn keep(&self, conn: PoolConnection<DB>) {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() >= KEEP {
            // The oldest goes back to the pool.
            drop(kept.remove(0));
        }
        kept.push((conn, Instant::now()));
        drop(kept);
        self.start_reaper();
    }

    /// Starts the task that gives back the connections idle for too long,
    /// once, in the runtime of the first connection kept; it ends with the
    /// store.
    fn start_reaper(&self) {
        if self.reaping.load(Ordering::Relaxed) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.reaping.swap(true, Ordering::AcqRel) {
            return;
        }
        let kept: Weak<Kept<DB>> = Arc::downgrade(&self.kept);
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(IDLE_PING).await;
                let Some(kept) = kept.upgrade() else {
                    return;
                };
                kept.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .retain(|(_, since)| since.elapsed() < IDLE_PING);
            }
        });
    }
}

impl<DB: Database> Drop for Recent<DB> {
    fn drop(&mut self) {
        let kept = std::mem::take(&mut *self.kept.lock().unwrap_or_else(PoisonError::into_inner));
        if tokio::runtime::Handle::try_current().is_err() {
            // A connection going back to its pool needs a runtime; without
            // one (the process is ending), let the sockets close with it.
            std::mem::forget(kept);
        }
    }
}

/// A connection taken from [`Recent`]: kept for the next taker once
/// [`Taken::finish`]ed, back to the pool if dropped before.
pub(crate) struct Taken<'a, DB: Database> {
    recent: &'a Recent<DB>,
    conn: Option<PoolConnection<DB>>,
}

impl<DB: Database> Taken<'_, DB> {
    /// Its work ended well: keep it for the next taker.
    pub(crate) fn finish(mut self) {
        if let Some(conn) = self.conn.take() {
            self.recent.keep(conn);
        }
    }
}

impl<DB: Database> Deref for Taken<'_, DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        self.conn.as_ref().expect("taken until dropped")
    }
}

impl<DB: Database> DerefMut for Taken<'_, DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        self.conn.as_mut().expect("taken until dropped")
    }
}
