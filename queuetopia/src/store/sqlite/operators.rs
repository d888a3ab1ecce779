//! An operator's actions on SQLite: on a job (retry, skip, cancel, edit)
//! and on a queue (pause, resume), each with its audit row in the same
//! transaction; and the audit read back.

use super::*;

impl SqliteStore {
    pub(super) async fn act_on_job(&self, op: JobAct<'_>) -> Result<Job> {
        let JobAct { scope, id, .. } = op;
        let mut conn = self.pool.acquire().await?;
        // The write lock at once: nothing changes the job or its queue
        // between the checks and the action.
        let mut tx = conn.begin_with(BEGIN).await?;
        let now = op.now.unwrap_or_else(Utc::now);
        let Some((job, running)) = job_get_on(&self.q, &mut tx, scope, id).await? else {
            return Err(Error::JobNotFound(id));
        };
        if running {
            return Err(Error::JobState {
                id,
                reason: "an attempt of it is running",
            });
        }
        let q = &self.q;
        let query = match op.action {
            JobAction::Retry => sqlx::query(q.job_retry.clone())
                .bind(scope)
                .bind(id)
                .bind(micros(now)),
            JobAction::Skip => sqlx::query(q.job_skip.clone())
                .bind(scope)
                .bind(id)
                .bind(micros(now)),
            JobAction::Cancel => sqlx::query(q.job_cancel.clone()).bind(scope).bind(id),
            JobAction::Edit { params } => sqlx::query(q.job_edit.clone())
                .bind(scope)
                .bind(id)
                .bind(micros(now))
                .bind(Value::Object(params.clone()).to_string()),
        };
        let Some(row) = query.fetch_optional(&mut *tx).await? else {
            return Err(Error::JobState {
                id,
                reason: op.action.refusal(),
            });
        };
        let updated = job_from_row(&row)?;
        write_audit(q, &mut tx, &op.audit(&job), now).await?;
        refresh(q, &mut tx, scope, &job.queue, now, false, false).await?;
        tx.commit().await?;
        Ok(updated)
    }

    pub(super) async fn pause_or_resume(&self, op: QueuePause<'_>) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        let mut tx = conn.begin_with(BEGIN).await?;
        let now = op.now.unwrap_or_else(Utc::now);
        let sql = match op.pause {
            true => self.q.queue_pause.clone(),
            false => self.q.queue_resume.clone(),
        };
        let query = sqlx::query(sql)
            .bind(op.scope)
            .bind(op.queue)
            .bind(micros(now));
        let query = match op.pause {
            true => query.bind(op.actor),
            false => query,
        };
        let done = query.execute(&mut *tx).await?;
        if done.rows_affected() != 1 {
            return Err(op.refusal());
        }
        write_audit(&self.q, &mut tx, &op.audit(), now).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn read_audit(&self, op: AuditList<'_>) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(self.q.audit_list.clone())
            .bind(op.scope)
            .bind(op.filter.job_id)
            .bind(op.filter.after)
            .bind(i64::from(op.filter.limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    scope: r.try_get("scope")?,
                    at: time(r.try_get("at")?)?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    queue: r.try_get("queue")?,
                    job_id: r.try_get("job_id")?,
                    reason: r.try_get("reason")?,
                    params_before: params_from_text(r.try_get("params_before")?)?,
                    params_after: params_from_text(r.try_get("params_after")?)?,
                })
            })
            .collect()
    }
}

/// Writes an operator action's audit row, in the action's transaction.
async fn write_audit(
    q: &Queries,
    conn: &mut SqliteConnection,
    audit: &AuditRow<'_>,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(q.audit_insert.clone())
        .bind(audit.scope)
        .bind(micros(now))
        .bind(audit.actor)
        .bind(audit.action)
        .bind(audit.queue)
        .bind(audit.job_id)
        .bind(audit.reason)
        .bind(audit.params_before.as_deref())
        .bind(audit.params_after.as_deref())
        .execute(conn)
        .await?;
    Ok(())
}
