//! Statements written out for many rows at once, on the backends whose
//! writes go row by row in SQL (SQLite, MySQL): a multi-row `INSERT` or an
//! `IN (…)` list costs one statement where a loop costs one per row.
//!
//! A statement writes, locks or reads at most 2^[`MAX_ROWS_LOG2`] rows: a
//! batch of creations goes in chunks of 256, then its rest in falling powers
//! of two ([`chunks`]); a list is padded to a power of two ([`padded`]).
//! Each connection prepares at most nine shapes of each statement.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::SqlSafeStr;
use sqlx::query::Query;

use super::queue_rule::QueuePlan;
use crate::job::{ExhaustionPolicy, NewJob, millis};

/// The most rows (2^8) one statement writes, locks or reads.
pub(crate) const MAX_ROWS_LOG2: usize = 8;

/// A statement written out for 2^k rows (or queues, or ids), at `[k]` for
/// k up to [`MAX_ROWS_LOG2`].
pub(crate) struct Repeated(Vec<sqlx::SqlStr>);

impl Repeated {
    /// `text(n)` is the statement for `n` rows.
    pub(crate) fn new(text: impl Fn(usize) -> String) -> Self {
        // Safe: the library's own statements and placeholders.
        Repeated(
            (0..=MAX_ROWS_LOG2)
                .map(|k| sqlx::AssertSqlSafe(text(1 << k)).into_sql_str())
                .collect(),
        )
    }

    /// The statement for a chunk of 2^k rows.
    pub(crate) fn get(&self, k: usize) -> sqlx::SqlStr {
        self.0[k].clone()
    }
}

/// `sql` with its one `marker` written out `n` times, joined by `sep`.
pub(crate) fn repeat(sql: &sqlx::SqlStr, marker: &str, n: usize, sep: &str) -> String {
    sql.as_str().replacen(marker, &vec![marker; n].join(sep), 1)
}

/// A chunk (1 to 2^[`MAX_ROWS_LOG2`] items) padded to the next 2^k by
/// repeating its last item, with its k: one statement of the 2^k shape
/// locks or reads it (a list with a repeated item finds the same rows).
#[cfg(feature = "mysql")]
pub(crate) fn padded<T>(chunk: &[T]) -> (usize, impl Iterator<Item = &T> + Clone) {
    let k = chunk.len().next_power_of_two().ilog2() as usize;
    let last = chunk.len() - 1;
    (k, (0..1 << k).map(move |i| &chunk[i.min(last)]))
}

/// `items` in chunks of 2^k, with their k: 256 at a time, then the rest in
/// falling powers of two; with `one_by_one`, one at a time.
pub(crate) fn chunks<T>(mut items: &[T], one_by_one: bool) -> impl Iterator<Item = (usize, &[T])> {
    std::iter::from_fn(move || {
        if items.is_empty() {
            return None;
        }
        let k = match one_by_one {
            true => 0,
            false => (items.len().ilog2() as usize).min(MAX_ROWS_LOG2),
        };
        let (chunk, rest) = items.split_at(1 << k);
        items = rest;
        Some((k, chunk))
    })
}

/// `insert` with one job's row of binds added, in the order of the jobs
/// table's creation statement: scope, queue, action, params, sequence,
/// scheduled_at, timeout, max backoff, max attempts, exhaustion policy,
/// now, now (`T`: the backend's time).
pub(crate) fn bind_job<'q, DB, T>(
    insert: Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    scope: &'q str,
    job: &'q NewJob,
    sequence: i64,
    scheduled_at: T,
    now: T,
) -> Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    DB: sqlx::Database,
    T: 'q + Copy + sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let o = &job.options;
    insert
        .bind(scope)
        .bind(job.queue.as_str())
        .bind(job.action.as_str())
        .bind(Value::Object(job.params.clone()).to_string())
        .bind(sequence)
        .bind(scheduled_at)
        .bind(millis(o.timeout))
        .bind(millis(o.max_backoff))
        .bind(i64::from(o.max_attempts))
        .bind(o.on_exhausted.map(ExhaustionPolicy::as_str))
        .bind(now)
        .bind(now)
}

/// `upsert` with one queue's row of binds added: scope, queue, jobs added,
/// now if some job has no schedule (else NULL), the earliest time one of
/// the new jobs may run (`time`: into the backend's own time).
pub(crate) fn bind_queue<'q, DB, T>(
    upsert: Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    scope: &'q str,
    plan: &QueuePlan<'q>,
    now: DateTime<Utc>,
    time: impl Fn(DateTime<Utc>) -> T,
) -> Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    DB: sqlx::Database,
    T: 'q + sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<T>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    upsert
        .bind(scope)
        .bind(plan.queue)
        .bind(plan.count)
        .bind(plan.has_now.then(|| time(now)))
        .bind(time(plan.ready(now)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_falling_powers_of_two() {
        let items: Vec<u32> = (0..300).collect();
        let sizes: Vec<(usize, usize)> = chunks(&items, false).map(|(k, c)| (k, c.len())).collect();
        assert_eq!(sizes, [(8, 256), (5, 32), (3, 8), (2, 4)]);
        let all: Vec<u32> = chunks(&items, false)
            .flat_map(|(_, c)| c.to_vec())
            .collect();
        assert_eq!(all, items);
        assert!(chunks(&items[..3], true).all(|(k, c)| k == 0 && c.len() == 1));
        assert_eq!(chunks(&items[..0], false).count(), 0);
    }

    #[test]
    fn a_repeated_statement_has_a_row_of_binds_per_row() {
        let sql = sqlx::AssertSqlSafe("INSERT INTO t VALUES (?, ?) RETURNING id").into_sql_str();
        let r = Repeated::new(|n| repeat(&sql, "(?, ?)", n, ", "));
        assert_eq!(
            r.get(0).as_str(),
            "INSERT INTO t VALUES (?, ?) RETURNING id"
        );
        assert_eq!(r.get(2).as_str().matches("(?, ?)").count(), 4);
        assert_eq!(r.get(MAX_ROWS_LOG2).as_str().matches('?').count(), 512);
    }
}
