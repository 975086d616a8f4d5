//! The `second_factors` and `recovery_codes` tables. Single use is decided by the database:
//! a TOTP step is accepted by an `UPDATE` that moves `last_step` forward only, a recovery
//! code by one that sets `used_at` only where it is empty; whoever's statement changed the
//! row won, everyone else was a replay.

use super::StoredRecoveryCode;
use sqlx::FromRow;

use super::{NewMail, Store, StoreError};

/// A factor as listed (never its secret).
#[derive(Debug, Clone, FromRow)]
pub(crate) struct SecondFactorRow {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) created_at: i64,
    pub(crate) last_used_at: Option<i64>,
}

/// A TOTP factor's sealed secret and the last step it accepted.
#[derive(Clone, FromRow)]
pub(crate) struct SealedTotp {
    pub(crate) id: String,
    pub(crate) secret_sealed: String,
    pub(crate) last_step: Option<i64>,
}

impl std::fmt::Debug for SealedTotp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedTotp")
            .field("id", &self.id)
            .field("secret_sealed", &"[redacted]")
            .field("last_step", &self.last_step)
            .finish()
    }
}

/// A new, unconfirmed TOTP factor.
pub(crate) struct NewTotp<'a> {
    pub(crate) id: &'a str,
    pub(crate) user_id: i64,
    pub(crate) name: &'a str,
    pub(crate) secret_sealed: &'a str,
    pub(crate) key_id: &'a str,
    pub(crate) created_at: i64,
}

impl Store {
    /// Locks the user's row for the rest of `tx`: changes to one user's factors are made
    /// one at a time, so "is this the first / the last factor" is answered truly.
    pub(super) async fn lock_user(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        user_id: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET disabled = disabled WHERE id = $1")
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Stores a TOTP factor awaiting its first code, replacing any other unconfirmed
    /// factor of the user (one enrolment at a time), unless the user already has `limit`
    /// factors; `false` then.
    pub(crate) async fn insert_totp(
        &self,
        new: NewTotp<'_>,
        limit: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        Self::lock_user(&mut tx, new.user_id).await?;
        sqlx::query("DELETE FROM second_factors WHERE user_id = $1 AND confirmed_at IS NULL")
            .bind(new.user_id)
            .execute(&mut *tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO second_factors (id, user_id, kind, name, secret_sealed, key_id, created_at) \
             SELECT $1, $2, 'totp', $3, $4, $5, $6 \
             WHERE (SELECT COUNT(*) FROM second_factors WHERE user_id = $2) < $7",
        )
        .bind(new.id)
        .bind(new.user_id)
        .bind(new.name)
        .bind(new.secret_sealed)
        .bind(new.key_id)
        .bind(new.created_at)
        .bind(limit)
        .execute(&mut *tx)
        .await;
        let inserted = match inserted {
            Ok(done) => done.rows_affected() > 0,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::Conflict("name"));
            }
            Err(e) => return Err(e.into()),
        };
        tx.commit().await?;
        Ok(inserted)
    }

    /// The user's confirmed factors, oldest first.
    pub(crate) async fn second_factors_of(
        &self,
        user_id: i64,
    ) -> Result<Vec<SecondFactorRow>, StoreError> {
        Ok(sqlx::query_as::<_, SecondFactorRow>(
            "SELECT id, kind, name, created_at, last_used_at FROM second_factors \
             WHERE user_id = $1 AND confirmed_at IS NOT NULL ORDER BY created_at, name",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The name of the user's authenticator app awaiting its first code, if any (adding
    /// another replaces it).
    pub(crate) async fn unconfirmed_totp_name(
        &self,
        user_id: i64,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar::<_, String>(
            "SELECT name FROM second_factors WHERE user_id = $1 AND confirmed_at IS NULL",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Whether the user has a confirmed factor.
    pub(crate) async fn has_second_factor(&self, user_id: i64) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM second_factors WHERE user_id = $1 AND confirmed_at IS NOT NULL",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?
            > 0)
    }

    /// The user's TOTP factors: the confirmed ones, or the one awaiting confirmation
    /// (`pending`: its id, created after `created_after`).
    pub(crate) async fn totp_factors(
        &self,
        user_id: i64,
        pending: Option<(&str, i64)>,
    ) -> Result<Vec<SealedTotp>, StoreError> {
        let query = match pending {
            None => sqlx::query_as::<_, SealedTotp>(
                "SELECT id, secret_sealed, last_step FROM second_factors \
                 WHERE user_id = $1 AND kind = 'totp' AND confirmed_at IS NOT NULL \
                   AND secret_sealed IS NOT NULL ORDER BY created_at",
            )
            .bind(user_id),
            Some((id, created_after)) => sqlx::query_as::<_, SealedTotp>(
                "SELECT id, secret_sealed, last_step FROM second_factors \
                 WHERE user_id = $1 AND id = $2 AND kind = 'totp' AND confirmed_at IS NULL \
                   AND secret_sealed IS NOT NULL AND created_at > $3",
            )
            .bind(user_id)
            .bind(id)
            .bind(created_after),
        };
        Ok(query.fetch_all(&self.pool).await?)
    }

    /// Accepts time step `step` of a confirmed TOTP factor, once: `false` when this step
    /// or a later one was already accepted (a replay, or a race lost).
    pub(crate) async fn accept_totp_step(
        &self,
        id: &str,
        step: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE second_factors SET last_step = $2, last_used_at = $3 \
             WHERE id = $1 AND confirmed_at IS NOT NULL \
               AND (last_step IS NULL OR last_step < $2)",
        )
        .bind(id)
        .bind(step)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    /// Confirms a factor awaiting its first code (accepting `step`), and, when it is the
    /// user's first, stores `codes` as their recovery codes (replacing any). Returns
    /// `None` when there was nothing to confirm, else whether the codes were stored.
    pub(crate) async fn confirm_totp(
        &self,
        user_id: i64,
        id: &str,
        step: i64,
        now: i64,
        codes: &[StoredRecoveryCode],
        notice: &NewMail,
    ) -> Result<Option<bool>, StoreError> {
        let mut tx = self.begin_write().await?;
        Self::lock_user(&mut tx, user_id).await?;
        let first = sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM second_factors WHERE user_id = $1 AND confirmed_at IS NOT NULL",
        )
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?
            == 0;
        let confirmed = sqlx::query(
            "UPDATE second_factors SET confirmed_at = $3, last_step = $4, last_used_at = $3 \
             WHERE id = $1 AND user_id = $2 AND confirmed_at IS NULL",
        )
        .bind(id)
        .bind(user_id)
        .bind(now)
        .bind(step)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !confirmed {
            tx.rollback().await?;
            return Ok(None);
        }
        let store_codes = first && !codes.is_empty();
        if store_codes {
            Self::put_recovery_codes(&mut tx, user_id, codes).await?;
        }
        Self::insert_mail(&mut tx, notice).await?;
        tx.commit().await?;
        Ok(Some(store_codes))
    }

    /// Removes one of the user's factors; with the last one go the recovery codes.
    /// `false` if they have no confirmed factor by that id.
    pub(crate) async fn remove_second_factor(
        &self,
        user_id: i64,
        id: &str,
        notice: &NewMail,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        Self::lock_user(&mut tx, user_id).await?;
        let removed = sqlx::query(
            "DELETE FROM second_factors WHERE id = $1 AND user_id = $2 AND confirmed_at IS NOT NULL",
        )
        .bind(id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        sqlx::query(
            "DELETE FROM recovery_codes WHERE user_id = $1 AND NOT EXISTS \
             (SELECT 1 FROM second_factors WHERE user_id = $1 AND confirmed_at IS NOT NULL)",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        if removed {
            Self::insert_mail(&mut tx, notice).await?;
        }
        tx.commit().await?;
        Ok(removed)
    }

    /// Removes every factor and recovery code of the user, ends their sessions and revokes
    /// their API tokens (the support reset). Returns the factors removed.
    pub(crate) async fn reset_second_factors(
        &self,
        user_id: i64,
        notice: &NewMail,
    ) -> Result<u64, StoreError> {
        self.revoking(async {
            let mut tx = self.begin_write().await?;
            Self::lock_user(&mut tx, user_id).await?;
            let removed = sqlx::query("DELETE FROM second_factors WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            for sql in [
                "DELETE FROM recovery_codes WHERE user_id = $1",
                "DELETE FROM pending_logins WHERE user_id = $1",
                "DELETE FROM webauthn_challenges WHERE user_id = $1",
                "DELETE FROM sessions WHERE user_id = $1",
                // A token skips the second step: made with the factors being reset, it
                // goes with them.
                "DELETE FROM api_tokens WHERE user_id = $1",
            ] {
                sqlx::query(sql).bind(user_id).execute(&mut *tx).await?;
            }
            // So do apps' tokens, offline ones included.
            super::revoke_grants_of_user(&mut tx, user_id, notice.created_at).await?;
            Self::insert_mail(&mut tx, notice).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(removed)
        })
        .await
    }

    /// Forgets factors added but never confirmed, created at or before `cutoff`.
    pub(crate) async fn delete_unconfirmed_factors(&self, cutoff: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "DELETE FROM second_factors WHERE confirmed_at IS NULL AND created_at <= $1",
        )
        .bind(cutoff)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// The next batch of TOTP secrets not sealed under `current`, after factor `after`:
    /// (factor id, user id, sealed).
    pub(crate) async fn totp_to_reseal(
        &self,
        current: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, i64, String)>, StoreError> {
        Ok(sqlx::query_as::<_, (String, i64, String)>(
            "SELECT id, user_id, secret_sealed FROM second_factors \
             WHERE secret_sealed IS NOT NULL AND key_id <> $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(current)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Replaces sealed TOTP secrets (id, old, new) in one transaction; each only if
    /// unchanged since it was read.
    pub(crate) async fn reseal_totp_batch(
        &self,
        rows: &[(String, String, String)],
        key_id: &str,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut done = 0;
        for (id, old, new) in rows {
            done += sqlx::query(
                "UPDATE second_factors SET secret_sealed = $1, key_id = $2 \
                 WHERE id = $3 AND secret_sealed = $4",
            )
            .bind(new)
            .bind(key_id)
            .bind(id)
            .bind(old)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewUser;
    use crate::store::tests::{notice, sqlite_store};

    /// The cleanup forgets an enrolment left unconfirmed past the cutoff, and nothing else.
    #[tokio::test]
    async fn only_stale_unconfirmed_factors_are_swept() {
        let (store, _dir) = sqlite_store().await;
        let user_id = store
            .insert_user(
                NewUser {
                    username: "dana",
                    email: "dana@example.com",
                    email_key: "dana@example.com",
                    display_name: None,
                    password_hash: "$argon2id$stand-in",
                    legacy_cost: None,
                },
                0,
                None,
            )
            .await
            .unwrap();
        let totp = |id: &'static str, created_at| NewTotp {
            id,
            user_id,
            name: id,
            secret_sealed: "sealed",
            key_id: "k",
            created_at,
        };
        assert!(store.insert_totp(totp("kept", 10), 10).await.unwrap());
        assert_eq!(
            store
                .confirm_totp(user_id, "kept", 1, 20, &[], &notice(user_id))
                .await
                .unwrap(),
            Some(false)
        );
        // One enrolment at a time: this one replaces nothing confirmed.
        assert!(store.insert_totp(totp("stale", 50), 10).await.unwrap());
        assert_eq!(store.delete_unconfirmed_factors(49).await.unwrap(), 0);
        assert_eq!(store.delete_unconfirmed_factors(50).await.unwrap(), 1);
        let left = store.second_factors_of(user_id).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].id, "kept");
    }
}
