//! MySQL: writing a batch of results under their queues' locks, and the
//! claim that rides in the same transaction.

#[allow(clippy::wildcard_imports)]
use super::*;

/// What a queue's row held when its lock was taken, for its refresh.
pub(super) struct QueueSeen {
    pub(super) locked_until: Option<DateTime<Utc>>,
    pub(super) blocked_since: Option<DateTime<Utc>>,
    /// An operator paused the queue: its lock is not handed on.
    pub(super) paused: bool,
}

impl QueueSeen {
    /// The queue's `blocked_since` once `head` is its head: kept from
    /// before (or `now`) while the head has failed, none otherwise.
    pub(super) fn blocked(&self, head: Option<&Job>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        head.filter(|h| h.error.is_some())
            .map(|_| self.blocked_since.unwrap_or(now))
    }
}

/// A result's queue row, locked.
pub(super) struct RowLock {
    pub(super) locked_by: Option<String>,
    pub(super) running_job_id: Option<i64>,
    pub(super) lock_token: Option<i64>,
    /// The database's clock.
    pub(super) now: DateTime<Utc>,
    pub(super) seen: QueueSeen,
}

impl RowLock {
    /// The queue's lock is still the one `f`'s attempt was claimed under.
    pub(super) fn owned_by(&self, node: &str, f: &JobFinish<'_>) -> bool {
        self.locked_by.as_deref() == Some(node)
            && self.running_job_id == Some(f.job_id)
            && self.lock_token == Some(f.token)
    }
}

/// A queue's refresh: recompute its row from its head at `now`, releasing
/// its lock or not, clearing its running attempt or not.
pub(super) struct Refresh<'a> {
    pub(super) scope: &'a str,
    pub(super) queue: &'a str,
    pub(super) now: DateTime<Utc>,
    pub(super) release_lock: bool,
    pub(super) clear_running: bool,
}

impl MySqlStore {
    /// Writes the results of a batch, each under its queue's lock, and
    /// with `b.next` claims the freed slots' next queues: one transaction,
    /// one commit for them all. That transaction is READ COMMITTED whatever
    /// the pool's default (MySQL's is REPEATABLE READ): under it, the claim
    /// would read the jobs with a snapshot taken before it locked the other
    /// queues' rows, miss a job committed just before, and park its queue.
    ///
    /// The queue rows are locked in one statement, the results written one
    /// by one, the jobs as written and the queues' heads read in one
    /// statement, then each queue refreshed. A single result whose queue's
    /// next job may run now, while no other queue of the scope waits for its
    /// turn, hands its lock straight to that job instead, as the refresh and
    /// the claim would decide: a queue draining alone costs five statements
    /// and a commit per job.
    pub(super) async fn write_results(&self, b: FinishBatch<'_>) -> Result<Finished> {
        let mut conn = self.pool.acquire().await?;
        let mut tx = match b.next {
            Some(_) => conn.begin_with(BEGIN_READ_COMMITTED).await?,
            None => conn.begin().await?,
        };
        let locks = self.lock_rows(&mut tx, &b).await?;
        // The pinned clock, or the database's as the row locks read it.
        let now = b.now.or_else(|| locks.values().next().map(|l| l.now));
        // Each result whose lock is still its attempt's, written.
        let mut wrote = Vec::new();
        let mut tried = 0;
        for f in &b.results {
            match (locks.get(f.queue), now) {
                (Some(lock), Some(now)) if lock.owned_by(b.node, f) => {
                    if self.write_result(&mut tx, now, f).await? {
                        wrote.push(f);
                    }
                    tried += 1;
                }
                (Some(_), _) => tried += 1,
                // A write that waits finds its row, or the queue is gone.
                (None, _) if b.wait => tried += 1,
                (None, _) => {}
            }
        }
        let mut written = HashMap::new();
        let mut next = Vec::new();
        if let Some(now) = now
            && !wrote.is_empty()
        {
            let hand_on = match (&b.results[..], b.next_claim()) {
                ([f], Some(claim)) if !f.keeps_lock() => Some(claim),
                _ => None,
            };
            let mut heads;
            (written, heads) = self
                .read_written(&mut tx, &b, now, &wrote, hand_on.is_some())
                .await?;
            // A job written under its queue's lock is there to be read.
            if wrote.iter().any(|f| !written.contains_key(&f.job_id)) {
                return Err(Error::unexpected("a result written was not read back"));
            }
            for f in &wrote {
                let seen = &locks[f.queue].seen;
                let (head, others) = heads.remove(f.queue).unzip();
                if let (Some(claim), Some(head), Some(false)) = (&hand_on, &head, others)
                    && !seen.paused
                    && decide(Some(Head::of(head)), now) == Decision::Run
                {
                    let until = plus(now, claim.lease(head));
                    let blocked = seen.blocked(Some(head), now);
                    let head = head.clone();
                    let job = self
                        .take(&mut tx, claim, head, until, now, Some(blocked))
                        .await?;
                    next.push(Claimed {
                        job,
                        abandoned: false,
                    });
                    continue;
                }
                let refresh = Refresh {
                    scope: b.scope,
                    queue: f.queue,
                    now,
                    release_lock: !f.keeps_lock(),
                    clear_running: true,
                };
                self.write_refresh(&mut tx, &refresh, seen, head.as_ref())
                    .await?;
            }
        }
        let jobs = b
            .results
            .iter()
            .map(|f| match written.remove(&f.job_id) {
                Some(job) => Written::Stored(Box::new(job)),
                None if locks.contains_key(f.queue) || b.wait => Written::Lost,
                None => Written::Busy,
            })
            .collect();
        if next.is_empty()
            && let Some(mut claim) = b.next_claim()
            && tried > 0
        {
            claim.limit = claim.limit.min(u32::try_from(tried).unwrap_or(u32::MAX));
            let now = match now {
                Some(now) => now,
                None => self.now(&mut tx, None).await?,
            };
            next = self.claim_on(&mut tx, &claim, now).await?.claimed;
        }
        tx.commit().await?;
        Ok(Finished { jobs, next })
    }

    /// Locks the results' queue rows: with `b.wait` one by one, each
    /// waiting for its row (`lock_check`), else all in one statement that
    /// skips the rows other transactions hold (`queue_try_lock`). A queue
    /// without a row here is gone (waiting) or busy (not waiting).
    pub(super) async fn lock_rows(
        &self,
        tx: &mut MySqlConnection,
        b: &FinishBatch<'_>,
    ) -> Result<HashMap<String, RowLock>> {
        let mut rows = Vec::new();
        if b.wait {
            for f in &b.results {
                let row = sqlx::query(self.q.lock_check.clone())
                    .bind(b.scope)
                    .bind(f.queue)
                    .fetch_optional(&mut *tx)
                    .await?;
                rows.extend(row);
            }
        } else {
            let mut queues: Vec<&str> = b.results.iter().map(|f| f.queue).collect();
            queues.sort_unstable();
            queues.dedup();
            for chunk in queues.chunks(1 << MAX_ROWS_LOG2) {
                let (k, queues) = padded(chunk);
                let mut lock = sqlx::query(self.batch.try_lock.get(k)).bind(b.scope);
                for queue in queues {
                    lock = lock.bind(*queue);
                }
                rows.extend(lock.fetch_all(&mut *tx).await?);
            }
        }
        rows.iter()
            .map(|r| {
                let lock = RowLock {
                    locked_by: opt_text(r, "locked_by")?,
                    running_job_id: r.try_get("running_job_id")?,
                    lock_token: r.try_get("lock_token")?,
                    now: time(r.try_get("now")?),
                    seen: QueueSeen {
                        locked_until: opt_time(r.try_get("locked_until")?),
                        blocked_since: opt_time(r.try_get("blocked_since")?),
                        paused: flag(r, "paused")?,
                    },
                };
                Ok((text(r, "queue")?, lock))
            })
            .collect()
    }

    /// Writes one attempt's result inside the batch's transaction, once its
    /// queue's row is locked and its lock checked; false when the job's row
    /// no longer matches the attempt (nothing written).
    pub(super) async fn write_result(
        &self,
        tx: &mut MySqlConnection,
        now: DateTime<Utc>,
        f: &JobFinish<'_>,
    ) -> Result<bool> {
        let q = &self.q;
        let written = match f.outcome {
            Outcome::Done => {
                sqlx::query(q.job_complete.clone())
                    .bind(now)
                    .bind(now)
                    .bind(f.job_id)
                    .bind(i64::from(f.attempt))
                    .execute(&mut *tx)
                    .await?
            }
            Outcome::Failed {
                error,
                backoff,
                give_up,
                ..
            } => {
                sqlx::query(q.job_fail.clone())
                    .bind(error)
                    .bind(plus(now, backoff))
                    .bind(give_up.then_some(now))
                    .bind(now)
                    .bind(f.job_id)
                    .bind(i64::from(f.attempt))
                    .execute(&mut *tx)
                    .await?
            }
        };
        Ok(written.rows_affected() == 1)
    }

    /// The jobs just written, by id, and their queues' heads, by queue, in
    /// one read; with `ask` (one job), its head comes with whether another
    /// queue of the scope waits for its turn.
    pub(super) async fn read_written(
        &self,
        tx: &mut MySqlConnection,
        b: &FinishBatch<'_>,
        now: DateTime<Utc>,
        wrote: &[&JobFinish<'_>],
        ask: bool,
    ) -> Result<(HashMap<i64, Job>, HashMap<String, (Job, bool)>)> {
        let mut written = HashMap::with_capacity(wrote.len());
        let mut heads = HashMap::with_capacity(wrote.len());
        for chunk in wrote.chunks(1 << MAX_ROWS_LOG2) {
            let read = match (ask, chunk) {
                (true, [f]) => sqlx::query(self.batch.written_handing_on.clone())
                    .bind(f.job_id)
                    .bind(b.scope)
                    .bind(f.queue)
                    .bind(now)
                    .bind(now)
                    .bind(b.scope)
                    .bind(f.queue),
                _ => {
                    let (k, results) = padded(chunk);
                    let mut read = sqlx::query(self.batch.written.get(k));
                    for f in results.clone() {
                        read = read.bind(f.job_id);
                    }
                    for f in results {
                        read = read.bind(b.scope).bind(f.queue);
                    }
                    read
                }
            };
            for row in read.fetch_all(&mut *tx).await? {
                let job = job_from_row(&row)?;
                match text(&row, "role")?.as_str() {
                    "written" => {
                        written.insert(job.id, job);
                    }
                    _ => {
                        let others = flag(&row, "others")?;
                        heads.insert(job.queue.clone(), (job, others));
                    }
                }
            }
        }
        Ok((written, heads))
    }

    /// Claims up to `claim.limit` ready queues inside the caller's
    /// transaction, at the server's `now` (see [`claim_walk`]): one that
    /// took no snapshot yet, or a READ COMMITTED one.
    pub(super) async fn claim_on(
        &self,
        tx: &mut MySqlConnection,
        claim: &QueueClaim<'_>,
        now: DateTime<Utc>,
    ) -> Result<ClaimBatch> {
        let q = &self.q;
        let rows = sqlx::query(q.queue_ready.clone())
            .bind(claim.scope)
            .bind(now)
            .bind(now)
            .bind(i64::from(claim.limit))
            .fetch_all(&mut *tx)
            .await?;
        let ready = rows
            .iter()
            .map(|r| {
                Ok((
                    text(r, "queue")?,
                    r.try_get::<Option<i64>, _>("running_job_id")?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let examined = u32::try_from(ready.len()).unwrap_or(u32::MAX);
        let mut steps = Steps {
            store: self,
            conn: &mut *tx,
            claim,
            now,
        };
        let claimed = claim_walk(&mut steps, claim, now, ready).await?;
        let next_wake = if examined < claim.limit {
            let row = sqlx::query(q.queue_next_wake.clone())
                .bind(claim.scope)
                .bind(now)
                .bind(now)
                .bind(claim.scope)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            let next = match flag(&row, "skipped")? {
                true => Some(now + chrono::Duration::milliseconds(20)),
                false => opt_time(row.try_get("next")?),
            };
            Some(NextWake { now, next })
        } else {
            None
        };
        Ok(ClaimBatch {
            claimed,
            examined,
            next_wake,
        })
    }
}
