//! An operator's actions on PostgreSQL: on a job (retry, skip, cancel, edit)
//! and on a queue (pause, resume), each with its audit row in the same
//! transaction; and the audit read back.

use super::*;

impl PgStore {
    /// Writes an operator action's audit row, in the action's transaction.
    async fn write_audit(
        &self,
        conn: &mut PgConnection,
        audit: &AuditRow<'_>,
        now: Option<DateTime<Utc>>,
    ) -> Result<()> {
        self.sql
            .query(|q| &q.audit_insert)
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
        let JobAct { scope, id, now, .. } = op;
        let mut tx = self.pool.begin().await?;
        let queue: Option<String> = self
            .sql
            .scalar(|q| &q.job_queue)
            .bind(scope)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(queue) = queue else {
            return Err(Error::JobNotFound(id));
        };
        // The queue's row first: claims and results take it too, so nothing
        // changes the job until this transaction ends.
        let running: Option<bool> = self
            .sql
            .scalar(|q| &q.queue_lock_row)
            .bind(scope)
            .bind(&queue)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if running == Some(true) {
            return Err(Error::JobState {
                id,
                reason: "an attempt of it is running",
            });
        }
        let before = self
            .sql
            .query(|q| &q.job_get)
            .bind(scope)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(before) = before else {
            return Err(Error::JobNotFound(id));
        };
        let before = job_from_row(&before)?;
        let query = match op.action {
            JobAction::Retry => self
                .sql
                .query(|q| &q.job_retry)
                .bind(scope)
                .bind(id)
                .bind(now),
            JobAction::Skip => self
                .sql
                .query(|q| &q.job_skip)
                .bind(scope)
                .bind(id)
                .bind(now),
            JobAction::Cancel => self.sql.query(|q| &q.job_cancel).bind(scope).bind(id),
            JobAction::Edit { params } => self
                .sql
                .query(|q| &q.job_edit)
                .bind(scope)
                .bind(id)
                .bind(now)
                .bind(Value::Object(params.clone()).to_string()),
        };
        let Some(row) = query.fetch_optional(&mut *tx).await? else {
            return Err(Error::JobState {
                id,
                reason: op.action.refusal(),
            });
        };
        let job = job_from_row(&row)?;
        self.write_audit(&mut tx, &op.audit(&before), now).await?;
        refresh(&self.sql, &mut tx, scope, &queue, now, false, false).await?;
        self.notify_in(&mut tx, scope).await?;
        tx.commit().await?;
        Ok(job)
    }

    pub(super) async fn pause_or_resume(&self, op: QueuePause<'_>) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let query = match op.pause {
            true => self.sql.query(|q| &q.queue_pause),
            false => self.sql.query(|q| &q.queue_resume),
        };
        let query = query.bind(op.scope).bind(op.queue).bind(op.now);
        let query = match op.pause {
            true => query.bind(op.actor),
            false => query,
        };
        if query.execute(&mut *tx).await?.rows_affected() != 1 {
            return Err(op.refusal());
        }
        self.write_audit(&mut tx, &op.audit(), op.now).await?;
        if !op.pause {
            // Other nodes may take the queue now.
            self.notify_in(&mut tx, op.scope).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn read_audit(&self, op: AuditList<'_>) -> Result<Vec<AuditEntry>> {
        let mut s = self.session().await?;
        let rows = self
            .sql
            .query(|q| &q.audit_list)
            .bind(op.scope)
            .bind(op.filter.job_id)
            .bind(op.filter.after)
            .bind(i64::from(op.filter.limit))
            .fetch_all(s.conn())
            .await?;
        s.done().await?;
        rows.iter().map(audit_from_row).collect()
    }
}
