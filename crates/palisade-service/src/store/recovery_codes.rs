//! Recovery codes: a selector to find one, its password hash to check it, spent by one
//! conditional `DELETE`.

use super::{Store, StoreError};

/// A recovery code as stored: its selector and the password hash of the whole code.
pub(crate) struct StoredRecoveryCode {
    pub(crate) selector: String,
    pub(crate) code_hash: String,
}

impl std::fmt::Debug for StoredRecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredRecoveryCode([redacted])")
    }
}

impl Store {
    pub(super) async fn put_recovery_codes(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        user_id: i64,
        codes: &[StoredRecoveryCode],
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        for code in codes {
            sqlx::query(
                "INSERT INTO recovery_codes (user_id, selector, code_hash) VALUES ($1, $2, $3)",
            )
            .bind(user_id)
            .bind(&code.selector)
            .bind(&code.code_hash)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Replaces the user's recovery codes, if they still have a confirmed factor;
    /// `false` when they have none (codes without a factor would be a second password).
    pub(crate) async fn replace_recovery_codes(
        &self,
        user_id: i64,
        codes: &[StoredRecoveryCode],
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        Self::lock_user(&mut tx, user_id).await?;
        let has_factor = sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM second_factors WHERE user_id = $1 AND confirmed_at IS NOT NULL",
        )
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?
            > 0;
        if !has_factor {
            tx.rollback().await?;
            return Ok(false);
        }
        Self::put_recovery_codes(&mut tx, user_id, codes).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The hash of the user's unused recovery code with this selector, if any.
    pub(crate) async fn recovery_code_hash(
        &self,
        user_id: i64,
        selector: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar::<_, String>(
            "SELECT code_hash FROM recovery_codes \
             WHERE user_id = $1 AND selector = $2 AND used_at IS NULL",
        )
        .bind(user_id)
        .bind(selector)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Uses up a recovery code, once: `false` when it was already used (a replay, or a
    /// race lost).
    pub(crate) async fn use_recovery_code(
        &self,
        user_id: i64,
        selector: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE recovery_codes SET used_at = $3 \
             WHERE user_id = $1 AND selector = $2 AND used_at IS NULL",
        )
        .bind(user_id)
        .bind(selector)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    /// How many of the user's recovery codes are still unused.
    pub(crate) async fn recovery_codes_left(&self, user_id: i64) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?)
    }
}
