//! An operator's actions on MySQL: on a job (retry, skip, cancel, edit)
//! and on a queue (pause, resume), each with its audit row in the same
//! transaction; and the audit read back.

use super::*;

impl MySqlStore {
    /// Writes an operator action's audit row, in the action's transaction.
    async fn write_audit(
        &self,
        conn: &mut MySqlConnection,
        audit: &AuditRow<'_>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(self.q.audit_insert.clone())
            .bind(audit.scope)
            .bind(now)
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

    pub(super) async fn act_on_job(&self, op: JobAct<'_>) -> Result<Job> {
        let JobAct { scope, id, .. } = op;
        let q = &self.q;
        let mut conn = self.pool.acquire().await?;
        let now = self.now(&mut conn, op.now).await?;
        let mut tx = conn.begin().await?;
        let found = sqlx::query(q.job_get.clone())
            .bind(scope)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(found) = found else {
            return Err(Error::JobNotFound(id));
        };
        let queue = text(&found, "queue")?;
        // The queue's row first: claims and results take it too, so nothing
        // changes the job until this transaction ends.
        let running: Option<i64> = sqlx::query_scalar(q.queue_lock_row.clone())
            .bind(id)
            .bind(scope)
            .bind(&queue)
            .fetch_optional(&mut *tx)
            .await?;
        if running == Some(1) {
            return Err(Error::JobState {
                id,
                reason: "an attempt of it is running",
            });
        }
        let before = self.job_by_id(&mut tx, id).await?;
        let query = match op.action {
            JobAction::Retry => sqlx::query(q.job_retry.clone())
                .bind(now)
                .bind(scope)
                .bind(id),
            JobAction::Skip => sqlx::query(q.job_skip.clone())
                .bind(now)
                .bind(now)
                .bind(scope)
                .bind(id),
            JobAction::Cancel => sqlx::query(q.job_cancel.clone()).bind(scope).bind(id),
            JobAction::Edit { params } => sqlx::query(q.job_edit.clone())
                .bind(Value::Object(params.clone()).to_string())
                .bind(now)
                .bind(scope)
                .bind(id),
        };
        if query.execute(&mut *tx).await?.rows_affected() != 1 {
            return Err(Error::JobState {
                id,
                reason: op.action.refusal(),
            });
        }
        let job = match op.action {
            JobAction::Cancel => before.clone(),
            _ => self.job_by_id(&mut tx, id).await?,
        };
        self.write_audit(&mut tx, &op.audit(&before), now).await?;
        self.refresh(&mut tx, scope, &queue, now, false, false)
            .await?;
        tx.commit().await?;
        Ok(job)
    }

    pub(super) async fn pause_or_resume(&self, op: QueuePause<'_>) -> Result<()> {
        let q = &self.q;
        let mut conn = self.pool.acquire().await?;
        let now = self.now(&mut conn, op.now).await?;
        let mut tx = conn.begin().await?;
        let query = match op.pause {
            true => {
                sqlx::query(q.queue_row_made.clone())
                    .bind(op.scope)
                    .bind(op.queue)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(q.queue_pause.clone()).bind(now).bind(op.actor)
            }
            false => sqlx::query(q.queue_resume.clone()).bind(now).bind(now),
        };
        let done = query
            .bind(op.scope)
            .bind(op.queue)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Err(op.refusal());
        }
        self.write_audit(&mut tx, &op.audit(), now).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn read_audit(&self, op: AuditList<'_>) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(self.q.audit_list.clone())
            .bind(op.scope)
            .bind(op.filter.job_id)
            .bind(op.filter.job_id)
            .bind(op.filter.after)
            .bind(op.filter.after)
            .bind(i64::from(op.filter.limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    scope: text(r, "scope")?,
                    at: time(r.try_get("at")?),
                    actor: text(r, "actor")?,
                    action: r.try_get("action")?,
                    queue: opt_text(r, "queue")?,
                    job_id: r.try_get("job_id")?,
                    reason: r.try_get("reason")?,
                    params_before: params_from_text(r.try_get("params_before")?)?,
                    params_after: params_from_text(r.try_get("params_after")?)?,
                })
            })
            .collect()
    }
}
