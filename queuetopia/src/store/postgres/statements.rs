//! PostgreSQL: the store's statements with their parameters bound (one
//! array per column for a batch), and what their rows read back as.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) async fn insert<'e, E: Executor<'e, Database = Postgres>>(
    sql: &Sql,
    executor: E,
    scope: &str,
    jobs: &[NewJob],
    now: Option<DateTime<Utc>>,
    channel: Option<&str>,
) -> Result<Inserted> {
    let query = match jobs {
        [] => {
            return Ok(Inserted {
                jobs: Vec::new(),
                wake: false,
            });
        }
        [job] => insert_one(sql, scope, job),
        _ => insert_many(sql, scope, jobs),
    };
    let rows = query.bind(now).bind(channel).fetch_all(executor).await?;
    let wake = match rows.first() {
        Some(row) => row.try_get::<Option<bool>, _>("wake")?.unwrap_or(false),
        None => false,
    };
    Ok(Inserted {
        jobs: created_jobs(scope, jobs, &rows)?,
        wake,
    })
}

pub(super) type PgQuery = sqlx::query::Query<'static, Postgres, PgArguments>;

/// `job_insert_one.sql` with one job bound, all but the clock and channel.
pub(super) fn insert_one(sql: &Sql, scope: &str, job: &NewJob) -> PgQuery {
    let o = &job.options;
    let (at, delay) = schedule(o.schedule);
    sql.query(|q| &q.job_insert_one)
        .bind(scope)
        .bind(&job.queue)
        .bind(&job.action)
        .bind(Value::Object(job.params.clone()).to_string())
        .bind(at)
        .bind(delay)
        .bind(millis(o.timeout))
        .bind(millis(o.max_backoff))
        .bind(int4(o.max_attempts))
        .bind(o.on_exhausted.map(ExhaustionPolicy::as_str))
}

/// `job_insert.sql` with the jobs bound as one array per column, all but
/// the clock and channel.
pub(super) fn insert_many(sql: &Sql, scope: &str, jobs: &[NewJob]) -> PgQuery {
    let n = jobs.len();
    let mut queues = Vec::with_capacity(n);
    let mut actions = Vec::with_capacity(n);
    let mut params = Vec::with_capacity(n);
    let mut scheduled = Vec::with_capacity(n);
    let mut delays = Vec::with_capacity(n);
    let mut timeouts = Vec::with_capacity(n);
    let mut backoffs = Vec::with_capacity(n);
    let mut max_attempts = Vec::with_capacity(n);
    let mut policies = Vec::with_capacity(n);
    for job in jobs {
        let o = &job.options;
        let (at, delay) = schedule(o.schedule);
        queues.push(job.queue.as_str());
        actions.push(job.action.as_str());
        params.push(Value::Object(job.params.clone()).to_string());
        scheduled.push(at);
        delays.push(delay);
        timeouts.push(millis(o.timeout));
        backoffs.push(millis(o.max_backoff));
        max_attempts.push(int4(o.max_attempts));
        policies.push(o.on_exhausted.map(ExhaustionPolicy::as_str));
    }
    sql.query(|q| &q.job_insert)
        .bind(scope)
        .bind(queues)
        .bind(actions)
        .bind(params)
        .bind(scheduled)
        .bind(delays)
        .bind(timeouts)
        .bind(backoffs)
        .bind(max_attempts)
        .bind(policies)
}

/// A job's schedule as the creation functions take it: a time, or a delay
/// in milliseconds, or neither for "now".
pub(super) fn schedule(schedule: Schedule) -> (Option<DateTime<Utc>>, Option<i64>) {
    match schedule {
        Schedule::Now => (None, None),
        Schedule::At(t) => (Some(t), None),
        Schedule::In(d) => (None, Some(millis(d))),
    }
}

/// A count as PostgreSQL's `integer` holds it (counts are checked to fit).
pub(super) fn int4(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The jobs a creation stored, in the order asked for. The functions return
/// what the server decided for each job (id, sequence, times) with its
/// queue; inside a queue, sequence numbers follow the order asked for, which
/// pairs each row with its job whatever order the rows come in.
pub(super) fn created_jobs(scope: &str, asked: &[NewJob], rows: &[PgRow]) -> Result<Vec<Job>> {
    struct Created<'r> {
        id: i64,
        queue: &'r str,
        sequence: i64,
        scheduled_at: DateTime<Utc>,
        inserted_at: DateTime<Utc>,
    }
    let mut created = rows
        .iter()
        .map(|row| {
            Ok(Created {
                id: row.try_get("id")?,
                queue: row.try_get("queue")?,
                sequence: row.try_get("sequence")?,
                scheduled_at: row.try_get("scheduled_at")?,
                inserted_at: row.try_get("inserted_at")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    created.sort_unstable_by(|a, b| (a.queue, a.sequence).cmp(&(b.queue, b.sequence)));
    // Each queue's next row: the first of its run, then one on per job.
    let mut next: HashMap<&str, usize> = HashMap::new();
    for (i, c) in created.iter().enumerate().rev() {
        next.insert(c.queue, i);
    }
    asked
        .iter()
        .map(|job| {
            let c = next
                .get_mut(job.queue.as_str())
                .and_then(|i| {
                    let c = created.get(*i).filter(|c| c.queue == job.queue);
                    *i += 1;
                    c
                })
                .ok_or_else(|| Error::unexpected("a creation returned fewer jobs than asked"))?;
            Ok(job.stored(scope, c.id, c.sequence, c.scheduled_at, c.inserted_at))
        })
        .collect()
}

pub(super) fn job_from_row(row: &PgRow) -> Result<Job> {
    let params = match row.try_get::<Value, _>("params")? {
        Value::Object(map) => map,
        _ => return Err(Error::unexpected("params is not a JSON object")),
    };
    let policy: Option<String> = row.try_get("on_exhausted")?;
    Ok(Job {
        id: row.try_get("id")?,
        scope: row.try_get("scope")?,
        queue: row.try_get("queue")?,
        action: row.try_get("action")?,
        params,
        sequence: row.try_get("sequence")?,
        scheduled_at: row.try_get("scheduled_at")?,
        timeout: duration(row.try_get("timeout_ms")?),
        max_backoff: duration(row.try_get("max_backoff_ms")?),
        max_attempts: count(row.try_get("max_attempts")?),
        on_exhausted: policy.as_deref().and_then(ExhaustionPolicy::parse),
        attempts: count(row.try_get("attempts")?),
        attempted_at: row.try_get("attempted_at")?,
        attempted_by: row.try_get("attempted_by")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        done_at: row.try_get("done_at")?,
        given_up_at: row.try_get("given_up_at")?,
        error: row.try_get("error")?,
        inserted_at: row.try_get("inserted_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// An audit entry as read back.
pub(super) fn audit_from_row(row: &PgRow) -> Result<AuditEntry> {
    let params = |column: &str| -> Result<Option<serde_json::Map<String, Value>>> {
        match row.try_get::<Option<Value>, _>(column)? {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(_) => Err(Error::unexpected("audited params are not a JSON object")),
        }
    };
    Ok(AuditEntry {
        id: row.try_get("id")?,
        scope: row.try_get("scope")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        queue: row.try_get("queue")?,
        job_id: row.try_get("job_id")?,
        reason: row.try_get("reason")?,
        params_before: params("params_before")?,
        params_after: params("params_after")?,
    })
}

pub(super) fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

/// Reads what `queuetopia_claim` returns: a row per claimed job, then one
/// row `examined` (see `sql/functions/claim.sql`).
pub(super) fn claim_rows(rows: &[PgRow]) -> Result<ClaimBatch> {
    let mut batch = ClaimBatch {
        claimed: Vec::new(),
        examined: 0,
        next_wake: None,
    };
    for row in rows {
        let role: String = row.try_get("role")?;
        if role == "claimed" {
            batch.claimed.push(Claimed {
                job: job_from_row(row)?,
                abandoned: row.try_get("abandoned")?,
            });
        } else {
            let examined: i32 = row.try_get("examined")?;
            batch.examined = u32::try_from(examined).unwrap_or(0);
            let now: Option<DateTime<Utc>> = row.try_get("wake_now")?;
            batch.next_wake = now.map(|now| NextWake {
                now,
                next: row.try_get("wake_next").ok().flatten(),
            });
        }
    }
    Ok(batch)
}

/// Runs the queue_refresh statement: see `sql/queue_refresh.sql`.
pub(super) async fn refresh(
    sql: &Sql,
    conn: &mut PgConnection,
    scope: &str,
    queue: &str,
    now: Option<DateTime<Utc>>,
    release_lock: bool,
    clear_running: bool,
) -> Result<()> {
    sql.query(|q| &q.queue_refresh)
        .bind(scope)
        .bind(queue)
        .bind(now)
        .bind(release_lock)
        .bind(clear_running)
        .execute(conn)
        .await?;
    Ok(())
}

/// A result's outcome as the finish functions take it: succeeded, error,
/// backoff (ms), give up, keep the lock.
pub(super) fn result_params<'a>(f: &JobFinish<'a>) -> (bool, Option<&'a str>, i64, bool, bool) {
    match f.outcome {
        Outcome::Done => (true, None, 0, false, false),
        Outcome::Failed {
            error,
            backoff,
            give_up,
            keep_lock,
        } => (false, Some(error), millis(backoff), give_up, keep_lock),
    }
}

/// `finish_one.sql` with one result bound, all but the next claim's
/// parameters.
pub(super) fn finish_one(sql: &Sql, b: &FinishBatch<'_>, f: &JobFinish<'_>) -> PgQuery {
    let (ok, error, backoff, give_up, keep_lock) = result_params(f);
    sql.query(|q| &q.finish_one)
        .bind(b.scope)
        .bind(b.node)
        .bind(b.now)
        .bind(f.queue)
        .bind(f.job_id)
        .bind(f.token)
        .bind(int4(f.attempt))
        .bind(ok)
        .bind(error)
        .bind(backoff)
        .bind(give_up)
        .bind(keep_lock)
}

/// `finish.sql` with the results bound as one array per column, all but the
/// next claim's parameters.
pub(super) fn finish_many(sql: &Sql, b: &FinishBatch<'_>) -> PgQuery {
    let n = b.results.len();
    let (mut queues, mut ids, mut tokens, mut attempts) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut oks, mut errors, mut backoffs, mut give_ups, mut keep_locks) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for f in &b.results {
        let (ok, error, backoff, give_up, keep_lock) = result_params(f);
        queues.push(f.queue);
        ids.push(f.job_id);
        tokens.push(f.token);
        attempts.push(int4(f.attempt));
        oks.push(ok);
        errors.push(error);
        backoffs.push(backoff);
        give_ups.push(give_up);
        keep_locks.push(keep_lock);
    }
    sql.query(|q| &q.finish)
        .bind(b.scope)
        .bind(b.node)
        .bind(b.now)
        .bind(queues)
        .bind(ids)
        .bind(tokens)
        .bind(attempts)
        .bind(oks)
        .bind(errors)
        .bind(backoffs)
        .bind(give_ups)
        .bind(keep_locks)
}
