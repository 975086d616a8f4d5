//! The `audit_events` table.

use super::{Store, StoreError};

impl Store {
    pub(crate) async fn audit(
        &self,
        now: i64,
        event: &str,
        user_id: Option<i64>,
        subject: Option<&str>,
        client: Option<&str>,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO audit_events (at, event, user_id, subject, client_addr, detail) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(now)
            .bind(event)
            .bind(user_id)
            .bind(subject)
            .bind(client)
            .bind(detail)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
