//! Passkeys' rows: the `passkey` columns of `second_factors`, the users' WebAuthn handles,
//! and the `webauthn_challenges` table, whose rows are taken by a `DELETE … RETURNING` so
//! that each challenge is answered once.

use sqlx::FromRow;

use super::{NewMail, Store, StoreError};

/// A passkey as stored: its factor id, the credential (webauthn-rs's JSON) and its counter.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct PasskeyRow {
    pub(crate) id: String,
    pub(crate) passkey: String,
}

/// A challenge taken back: whose, under what name (adding a passkey), and its state.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct TakenChallenge {
    pub(crate) user_id: Option<i64>,
    pub(crate) name: Option<String>,
    pub(crate) state: String,
}

/// A new passkey, confirmed by its registration.
pub(crate) struct NewPasskey<'a> {
    pub(crate) id: &'a str,
    pub(crate) user_id: i64,
    pub(crate) name: &'a str,
    pub(crate) credential_id: &'a str,
    pub(crate) passkey: &'a str,
    pub(crate) now: i64,
}

impl Store {
    /// The user's WebAuthn handle, made (from `fresh`) on first use.
    pub(crate) async fn webauthn_handle(
        &self,
        user_id: i64,
        fresh: &str,
    ) -> Result<String, StoreError> {
        sqlx::query(
            "UPDATE users SET webauthn_handle = $2 WHERE id = $1 AND webauthn_handle IS NULL",
        )
        .bind(user_id)
        .bind(fresh)
        .execute(&self.pool)
        .await?;
        Ok(
            sqlx::query_scalar::<_, String>("SELECT webauthn_handle FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// The enabled user a WebAuthn handle names.
    pub(crate) async fn user_by_webauthn_handle(
        &self,
        handle: &str,
    ) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar::<_, i64>(
            "SELECT id FROM users WHERE webauthn_handle = $1 AND disabled = 0",
        )
        .bind(handle)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The user's passkeys.
    pub(crate) async fn passkeys_of(&self, user_id: i64) -> Result<Vec<PasskeyRow>, StoreError> {
        Ok(sqlx::query_as::<_, PasskeyRow>(
            "SELECT id, passkey FROM second_factors \
             WHERE user_id = $1 AND kind = 'passkey' AND passkey IS NOT NULL \
               AND confirmed_at IS NOT NULL ORDER BY created_at",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Stores a challenge for `binding`, replacing any earlier one (one at a time).
    pub(crate) async fn put_challenge(
        &self,
        binding: &str,
        user_id: Option<i64>,
        name: Option<&str>,
        state: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO webauthn_challenges (binding, user_id, name, state, expires_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (binding) DO UPDATE SET user_id = $2, name = $3, state = $4, expires_at = $5",
        )
        .bind(binding)
        .bind(user_id)
        .bind(name)
        .bind(state)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Takes the challenge for `binding` if it is current: once. Every other request for it,
    /// in flight or later, finds nothing.
    pub(crate) async fn take_challenge(
        &self,
        binding: &str,
        now: i64,
    ) -> Result<Option<TakenChallenge>, StoreError> {
        let rows = sqlx::query_as::<_, TakenChallenge>(
            "DELETE FROM webauthn_challenges WHERE binding = $1 AND expires_at > $2 \
             RETURNING user_id, name, state",
        )
        .bind(binding)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().next())
    }

    /// Stores a registered passkey, unless the user already has `limit` factors (`false`).
    /// A credential already registered (to anyone) is a conflict.
    pub(crate) async fn insert_passkey(
        &self,
        new: NewPasskey<'_>,
        limit: i64,
        notice: &NewMail,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        Self::lock_user(&mut tx, new.user_id).await?;
        let known = sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM second_factors WHERE credential_id = $1",
        )
        .bind(new.credential_id)
        .fetch_one(&mut *tx)
        .await?;
        if known > 0 {
            return Err(StoreError::Conflict("credential"));
        }
        let inserted = sqlx::query(
            "INSERT INTO second_factors (id, user_id, kind, name, credential_id, passkey, created_at, confirmed_at) \
             SELECT $1, $2, 'passkey', $3, $4, $5, $6, $6 \
             WHERE (SELECT COUNT(*) FROM second_factors WHERE user_id = $2) < $7",
        )
        .bind(new.id)
        .bind(new.user_id)
        .bind(new.name)
        .bind(new.credential_id)
        .bind(new.passkey)
        .bind(new.now)
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
        if inserted {
            Self::insert_mail(&mut tx, notice).await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    /// Records a passkey's use: its credential and counter move forward only. `false` when
    /// another use already moved the counter to `sign_count` or past it (a cloned
    /// authenticator, or a replay); a counter of 0 means the authenticator keeps none.
    pub(crate) async fn use_passkey(
        &self,
        id: &str,
        passkey: &str,
        sign_count: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE second_factors SET passkey = $2, sign_count = $3, last_used_at = $4 \
             WHERE id = $1 AND (sign_count < $3 OR $3 = 0)",
        )
        .bind(id)
        .bind(passkey)
        .bind(sign_count)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1)
    }

    pub(crate) async fn delete_expired_challenges(&self, now: i64) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM webauthn_challenges WHERE expires_at <= $1")
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }
}
