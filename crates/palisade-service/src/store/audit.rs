//! The `audit_events` table.

use super::{Store, StoreError};

/// One audit event, as stored.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuditRecord<'a> {
    pub(crate) at: i64,
    pub(crate) event: &'a str,
    pub(crate) user_id: Option<i64>,
    pub(crate) subject: Option<&'a str>,
    pub(crate) client: Option<&'a str>,
    pub(crate) detail: Option<&'a str>,
}

impl Store {
    pub(crate) async fn audit(&self, record: &AuditRecord<'_>) -> Result<(), StoreError> {
        insert(record).execute(&self.pool).await?;
        Ok(())
    }
}

/// The insert, to run on the pool or inside a transaction.
pub(super) fn insert<'q>(
    record: &AuditRecord<'q>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    sqlx::query("INSERT INTO audit_events (at, event, user_id, subject, client_addr, detail) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(record.at)
        .bind(record.event)
        .bind(record.user_id)
        .bind(record.subject)
        .bind(record.client)
        .bind(record.detail)
}
