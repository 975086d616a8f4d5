//! The `pending_logins` table: logins past the password and short of the second step.
//! Nothing but the second step reads it, so its token opens nothing else.

use sqlx::FromRow;

use super::{SessionRow, Store, StoreError, audit::AuditRecord};

/// A login waiting for its second step (its token only as a hash).
#[derive(Debug, Clone, FromRow)]
pub(crate) struct PendingLoginRow {
    pub(crate) user_id: i64,
    pub(crate) created_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) client_addr: String,
    pub(crate) user_agent: String,
}

impl Store {
    /// The pending login behind a token hash, if current (nothing counted).
    pub(crate) async fn pending_login(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<PendingLoginRow>, StoreError> {
        Ok(sqlx::query_as::<_, PendingLoginRow>(
            "SELECT user_id, created_at, expires_at, client_addr, user_agent FROM pending_logins \
             WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Counts one second-step guess against the pending login, if it is current and has
    /// guesses left (at most `max_guesses`), in one statement; returns it then.
    pub(crate) async fn guess_pending_login(
        &self,
        token_hash: &str,
        now: i64,
        max_guesses: i64,
    ) -> Result<Option<PendingLoginRow>, StoreError> {
        let rows = sqlx::query_as::<_, PendingLoginRow>(
            "UPDATE pending_logins SET guesses = guesses + 1 \
             WHERE token_hash = $1 AND expires_at > $2 AND guesses < $3 \
             RETURNING user_id, created_at, expires_at, client_addr, user_agent",
        )
        .bind(token_hash)
        .bind(now)
        .bind(max_guesses)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().next())
    }

    /// Gives back a guess that was no guess (a right code, used a moment earlier).
    pub(crate) async fn ungess_pending_login(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE pending_logins SET guesses = guesses - 1 WHERE token_hash = $1 AND guesses > 0",
        )
        .bind(token_hash)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Turns a pending login into a session, all or nothing: the pending row is deleted
    /// (exactly once: `false` when another request already did), the session inserted
    /// and the login audited.
    pub(crate) async fn complete_pending_login(
        &self,
        pending_hash: &str,
        session: &SessionRow,
        token_hash: &str,
        audit: &AuditRecord<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let taken = sqlx::query("DELETE FROM pending_logins WHERE token_hash = $1")
            .bind(pending_hash)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if !taken {
            tx.rollback().await?;
            return Ok(false);
        }
        super::sessions::insert(session, token_hash)
            .execute(&mut *tx)
            .await?;
        super::audit::insert(audit).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub(crate) async fn delete_expired_pending_logins(&self, now: i64) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM pending_logins WHERE expires_at <= $1")
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }
}
