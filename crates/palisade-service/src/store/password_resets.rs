//! The `password_resets` table: one outstanding reset link per user, by its token's hash.

use super::{NewMail, Store, StoreError};

/// What a completed reset changed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResetDone {
    pub(crate) sessions_ended: u64,
    pub(crate) tokens_revoked: u64,
}

impl Store {
    /// Stores a reset link for `user_id` — replacing any older one, which stops working —
    /// and queues the message that carries it (`None`: support hands the link over), in one
    /// transaction.
    pub(crate) async fn put_password_reset(
        &self,
        user_id: i64,
        token_hash: &str,
        now: i64,
        expires_at: i64,
        mail: Option<&NewMail>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO password_resets (user_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id) DO UPDATE SET token_hash = excluded.token_hash, \
             created_at = excluded.created_at, expires_at = excluded.expires_at",
        )
        .bind(user_id)
        .bind(token_hash)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        if let Some(mail) = mail {
            Self::insert_mail(&mut tx, mail).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The user a current reset link belongs to (reading it uses nothing up).
    pub(crate) async fn password_reset_user(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar::<_, i64>(
            "SELECT user_id FROM password_resets WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Uses the reset link up and sets the new password, ending every session, pending
    /// login and API token of the user, and queues the notice — all in one transaction,
    /// and only if the link was still current and `user_id`'s (`None`: it was not; another
    /// request used it first, or a newer one replaced it).
    pub(crate) async fn complete_password_reset(
        &self,
        token_hash: &str,
        user_id: i64,
        new_hash: &str,
        now: i64,
        notice: &NewMail,
    ) -> Result<Option<ResetDone>, StoreError> {
        self.revoking(async {
            let mut tx = self.begin_write().await?;
            let taken = sqlx::query(
                "DELETE FROM password_resets WHERE token_hash = $1 AND user_id = $2 AND expires_at > $3",
            )
            .bind(token_hash)
            .bind(user_id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if taken != 1 {
                tx.rollback().await?;
                return Ok::<_, StoreError>(None);
            }
            sqlx::query(
                "UPDATE users SET password_hash = $1, legacy_cost = NULL, password_changed_at = $2 WHERE id = $3",
            )
            .bind(new_hash)
            .bind(now)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
            let sessions_ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM pending_logins WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            let tokens_revoked = sqlx::query("DELETE FROM api_tokens WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            super::revoke_grants_of_user(&mut tx, user_id, now).await?;
            Self::insert_mail(&mut tx, notice).await?;
            tx.commit().await?;
            Ok(Some(ResetDone {
                sessions_ended,
                tokens_revoked,
            }))
        })
        .await
    }

    /// Deletes reset links past their expiry.
    pub(crate) async fn delete_expired_resets(&self, now: i64) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM password_resets WHERE expires_at <= $1")
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }
}
