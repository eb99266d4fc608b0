//! Reading the audit log; appending happens in `write.rs`, with the change it records.

use async_trait::async_trait;

use super::{
    AuditFilter, AuditStore, DbTime, SqlStore, db::query, queries::audit as sql, write::Write,
};
use crate::checks::Touched;
use crate::domain::{
    Id, Revision,
    audit::{AuditEvent, AuditRecord},
    page::PageRequest,
};
use crate::error::Result;

#[derive(sqlx::FromRow)]
struct AuditRow {
    sequence: i64,
    id: Id,
    time: DbTime,
    actor_id: Option<Id>,
    action: String,
    target_type: String,
    target_id: String,
    success: bool,
    impersonation_user: Option<String>,
    details: String,
    prev_hash: String,
    hash: String,
}

impl From<AuditRow> for AuditEvent {
    fn from(row: AuditRow) -> Self {
        Self {
            sequence: row.sequence,
            id: row.id,
            time: row.time.0,
            actor_id: row.actor_id,
            action: row.action,
            target_type: row.target_type,
            target_id: row.target_id,
            success: row.success,
            impersonation_user: row.impersonation_user,
            details: row.details,
            prev_hash: row.prev_hash,
            hash: row.hash,
        }
    }
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn list_audit_events(
        &self,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Vec<AuditEvent>> {
        let after = page.after_sequence()?;
        let mut pooled = self.db.acquire().await?;
        let rows: Vec<AuditRow> = pooled
            .conn()
            .fetch_all(
                query(sql::LIST)
                    .bind(after)
                    .bind(filter.since)
                    .bind(filter.until)
                    .bind(filter.actor)
                    .bind(filter.action.as_deref())
                    .bind(filter.target.as_deref())
                    .bind(page.limit()),
            )
            .await?;
        Ok(rows.into_iter().map(AuditEvent::from).collect())
    }

    async fn audit_events_after(&self, after: i64, limit: i64) -> Result<Vec<AuditEvent>> {
        let mut pooled = self.db.acquire().await?;
        let rows: Vec<AuditRow> = pooled
            .conn()
            .fetch_all(query(sql::AFTER).bind(after).bind(limit))
            .await?;
        Ok(rows.into_iter().map(AuditEvent::from).collect())
    }

    async fn audit_head(&self) -> Result<(i64, String)> {
        let mut pooled = self.db.acquire().await?;
        pooled.conn().fetch_one(query(sql::HEAD)).await
    }

    async fn append_audit_events(&self, records: Vec<AuditRecord>) -> Result<Revision> {
        // The decision audit's tallies: events only, no fact of any check.
        Write::begin(&self.db)
            .await?
            .commit_all(records, Touched::nothing())
            .await
    }

    async fn usage_counts(&self, first_day: &str) -> Result<Vec<(String, String, i64)>> {
        let mut pooled = self.db.acquire().await?;
        pooled
            .conn()
            .fetch_all(query(sql::USAGE_SINCE).bind(first_day))
            .await
    }
}
