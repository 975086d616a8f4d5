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

    #[cfg(test)]
    pub(crate) async fn audit_events_named(&self, event: &str) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_events WHERE event = $1")
                .bind(event)
                .fetch_one(&self.pool)
                .await?,
        )
    }
}
