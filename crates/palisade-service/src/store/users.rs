//! The `users` table.

use sqlx::FromRow;

use super::{EmailPurpose, NewMail, Store, StoreError};

/// A password hash as stored. Not a key to anything by itself, but a target for offline
/// guessing: `[redacted]` in `Debug`, read only through [`StoredHash::as_str`].
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct StoredHash(String);

impl StoredHash {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for StoredHash {
    fn from(hash: String) -> Self {
        Self(hash)
    }
}

impl std::fmt::Debug for StoredHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredHash([redacted])")
    }
}

/// A user, without the password hash: that is read only where a password is checked
/// ([`Store::login_lookup`], [`Store::password_hash`]) and dropped after the check.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct UserRow {
    pub(crate) id: i64,
    pub(crate) username: String,
    pub(crate) email: String,
    pub(crate) display_name: Option<String>,
    pub(crate) disabled: i64,
    pub(crate) created_at: i64,
    /// When the address was last proved by a link sent to it; `None`: never.
    pub(crate) email_verified_at: Option<i64>,
}

const USER_COLUMNS_BY_LOGIN: &str = "SELECT id, username, email, display_name, disabled, created_at, email_verified_at FROM users WHERE username = $1 OR email_key = $2";

pub(crate) struct NewUser<'a> {
    pub(crate) username: &'a str,
    pub(crate) email: &'a str,
    pub(crate) email_key: &'a str,
    pub(crate) display_name: Option<&'a str>,
    pub(crate) password_hash: &'a str,
    /// The bcrypt cost when `password_hash` is an imported bcrypt hash.
    pub(crate) legacy_cost: Option<u32>,
}

/// The address link a registration mails, stored with the new user.
pub(crate) struct Verification<'a> {
    pub(crate) token_hash: &'a str,
    pub(crate) expires_at: i64,
    /// Its message, addressed; its user is set once the user exists.
    pub(crate) mail: NewMail,
}

impl Store {
    /// Inserts a user and, with `verification`, the link that proves their address and
    /// the message that carries it — all or nothing.
    pub(crate) async fn insert_user(
        &self,
        user: NewUser<'_>,
        now: i64,
        verification: Option<Verification<'_>>,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query_scalar::<_, i64>(
            "INSERT INTO users (username, email, email_key, display_name, password_hash, legacy_cost, disabled, created_at, password_changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7) RETURNING id",
        )
        .bind(user.username)
        .bind(user.email)
        .bind(user.email_key)
        .bind(user.display_name)
        .bind(user.password_hash)
        .bind(user.legacy_cost.map(i64::from))
        .bind(now)
        .fetch_all(&mut *tx)
        .await;
        let id = Self::account_inserted(inserted)?;
        Self::refuse_retired(&mut tx, user.username, now).await?;
        if let Some(Verification {
            token_hash,
            expires_at,
            mut mail,
        }) = verification
        {
            Self::put_email_token_tx(
                &mut tx,
                id,
                EmailPurpose::Verify,
                user.email,
                token_hash,
                now,
                expires_at,
            )
            .await?;
            mail.user_id = Some(id);
            Self::insert_mail(&mut tx, &mail).await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// The id of an account just inserted; a unique index it hit names the field taken
    /// (`email` or `username`), for every place that makes accounts.
    pub(super) fn account_inserted(
        inserted: Result<Vec<i64>, sqlx::Error>,
    ) -> Result<i64, StoreError> {
        match inserted {
            Ok(ids) => super::only_row(ids),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::Conflict(if e.message().contains("email") {
                    "email"
                } else {
                    "username"
                }))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The user whose username is `username` or whose email comparison key is `email_key`.
    pub(crate) async fn user_by_login(
        &self,
        username: &str,
        email_key: &str,
    ) -> Result<Option<UserRow>, StoreError> {
        Ok(sqlx::query_as::<_, UserRow>(USER_COLUMNS_BY_LOGIN)
            .bind(username)
            .bind(email_key)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// The highest bcrypt cost among imported hashes still stored (0: none).
    pub(crate) async fn max_legacy_cost(&self) -> Result<u32, StoreError> {
        let cost = sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(legacy_cost) FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok(cost.unwrap_or(0).clamp(0, 31) as u32)
    }

    /// Inserts users in one transaction, skipping any whose username or email is taken
    /// (or whose username is reserved after a deletion).
    /// Returns how many were inserted.
    pub(crate) async fn import_users(
        &self,
        users: &[NewUser<'_>],
        now: i64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut inserted = 0;
        for user in users {
            match Self::refuse_retired(&mut tx, user.username, now).await {
                Err(StoreError::Conflict(_)) => continue,
                other => other?,
            }
            inserted += sqlx::query(
                "INSERT INTO users (username, email, email_key, display_name, password_hash, legacy_cost, disabled, created_at, password_changed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7) ON CONFLICT DO NOTHING",
            )
            .bind(user.username)
            .bind(user.email)
            .bind(user.email_key)
            .bind(user.display_name)
            .bind(user.password_hash)
            .bind(user.legacy_cost.map(i64::from))
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(inserted)
    }

    pub(crate) async fn user_by_id(&self, id: i64) -> Result<Option<UserRow>, StoreError> {
        Ok(sqlx::query_as::<_, UserRow>(
            "SELECT id, username, email, display_name, disabled, created_at, email_verified_at FROM users WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// A user's password hash, to check a password they entered.
    pub(crate) async fn password_hash(&self, id: i64) -> Result<Option<StoredHash>, StoreError> {
        Ok(
            sqlx::query_scalar::<_, String>("SELECT password_hash FROM users WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .map(StoredHash::from),
        )
    }

    pub(crate) async fn list_users(&self) -> Result<Vec<UserRow>, StoreError> {
        Ok(sqlx::query_as::<_, UserRow>(
            "SELECT id, username, email, display_name, disabled, created_at, email_verified_at FROM users ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub(crate) async fn set_disabled(&self, id: i64, disabled: bool) -> Result<(), StoreError> {
        self.revoking(
            sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
                .bind(i64::from(disabled))
                .bind(id)
                .execute(&self.pool),
        )
        .await?;
        Ok(())
    }

    /// Replaces a hash found outdated at login (same password, new algorithm or pepper).
    pub(crate) async fn replace_hash(
        &self,
        id: i64,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET password_hash = $1, legacy_cost = NULL WHERE id = $2 AND password_hash = $3")
            .bind(new_hash)
            .bind(id)
            .bind(old_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Sets a new password, ends every session but `keep` and revokes every API token, in
    /// one transaction. Returns how many sessions ended and tokens were revoked.
    pub(crate) async fn change_password(
        &self,
        id: i64,
        new_hash: &str,
        keep: &str,
        now: i64,
        notice: &NewMail,
    ) -> Result<(u64, u64), StoreError> {
        self.revoking(self.change_password_tx(id, new_hash, keep, now, notice))
            .await
    }

    async fn change_password_tx(
        &self,
        id: i64,
        new_hash: &str,
        keep: &str,
        now: i64,
        notice: &NewMail,
    ) -> Result<(u64, u64), StoreError> {
        // The user's row first: token creations wait on the same lock (see
        // `insert_api_token`), so none lands after this change has revoked them all.
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE users SET password_hash = $1, legacy_cost = NULL, password_changed_at = $2 WHERE id = $3")
            .bind(new_hash)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
            .bind(id)
            .bind(keep)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        // A reset link asked for before the change would undo it.
        sqlx::query("DELETE FROM password_resets WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        // Whoever held the account before the change (the reason for most changes) may
        // have minted a token with it: none outlives the old password.
        let revoked = sqlx::query("DELETE FROM api_tokens WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        // Apps' tokens too, offline ones included.
        super::revoke_grants_of_user(&mut tx, id, now).await?;
        Self::insert_mail(&mut tx, notice).await?;
        tx.commit().await?;
        Ok((ended, revoked))
    }

    /// Every stored password hash (for counting pepper versions).
    pub(crate) async fn password_hashes(&self) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar::<_, String>("SELECT password_hash FROM users")
                .fetch_all(&self.pool)
                .await?,
        )
    }
}
