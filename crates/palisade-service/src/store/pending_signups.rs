//! The `pending_signups` table: sign-ups waiting for their mailed link.

use super::{Store, StoreError};

/// A sign-up as asked for, its password already hashed.
pub(crate) struct PendingSignup<'a> {
    pub(crate) token_hash: &'a str,
    pub(crate) username: &'a str,
    pub(crate) email: &'a str,
    pub(crate) email_key: &'a str,
    pub(crate) display_name: Option<&'a str>,
    pub(crate) password_hash: &'a str,
    pub(crate) created_at: i64,
    pub(crate) expires_at: i64,
}

#[derive(sqlx::FromRow)]
struct Pending {
    username: String,
    email: String,
    email_key: String,
    display_name: Option<String>,
    password_hash: String,
}

impl Store {
    /// Reserves the sign-up's username until the link expires. `Conflict("username")`
    /// when an account or a current sign-up has it (checked and inserted in one
    /// transaction; the unique index decides between sign-ups in flight).
    pub(crate) async fn insert_pending_signup(
        &self,
        signup: &PendingSignup<'_>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let accounts =
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users WHERE username = $1")
                .bind(signup.username)
                .fetch_one(&mut *tx)
                .await?;
        if accounts > 0 {
            return Err(StoreError::Conflict("username"));
        }
        Self::refuse_retired(&mut tx, signup.username, signup.created_at).await?;
        sqlx::query("DELETE FROM pending_signups WHERE username = $1 AND expires_at <= $2")
            .bind(signup.username)
            .bind(signup.created_at)
            .execute(&mut *tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO pending_signups (token_hash, username, email, email_key, display_name, password_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(signup.token_hash)
        .bind(signup.username)
        .bind(signup.email)
        .bind(signup.email_key)
        .bind(signup.display_name)
        .bind(signup.password_hash)
        .bind(signup.created_at)
        .bind(signup.expires_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::Conflict("username"));
            }
            Err(e) => return Err(e.into()),
        }
        tx.commit().await?;
        Ok(())
    }

    /// The username and address of a current sign-up link (for the page that asks to
    /// confirm it; changes nothing).
    pub(crate) async fn pending_signup(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<(String, String)>, StoreError> {
        Ok(sqlx::query_as::<_, (String, String)>(
            "SELECT username, email FROM pending_signups WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Uses a sign-up link, once: the pending row goes and the account is made, its
    /// address proven, in one transaction. `None`: the link is not current.
    /// `Conflict(field)`: an account took the username or the address meanwhile (the link
    /// then stays unused until it expires).
    pub(crate) async fn complete_signup(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.begin_write().await?;
        let pending = sqlx::query_as::<_, Pending>(
            "DELETE FROM pending_signups WHERE token_hash = $1 AND expires_at > $2 \
             RETURNING username, email, email_key, display_name, password_hash",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let Some(p) = pending.into_iter().next() else {
            return Ok(None);
        };
        let inserted = sqlx::query_scalar::<_, i64>(
            "INSERT INTO users (username, email, email_key, display_name, password_hash, disabled, created_at, password_changed_at, email_verified_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6, $6, $6) RETURNING id",
        )
        .bind(&p.username)
        .bind(&p.email)
        .bind(&p.email_key)
        .bind(&p.display_name)
        .bind(&p.password_hash)
        .bind(now)
        .fetch_all(&mut *tx)
        .await;
        let id = Self::account_inserted(inserted)?;
        Self::refuse_retired(&mut tx, &p.username, now).await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// Forgets sign-ups whose link expired at or before `now`.
    pub(crate) async fn delete_expired_signups(&self, now: i64) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM pending_signups WHERE expires_at <= $1")
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// The account whose address has this comparison key, if any.
    pub(crate) async fn user_id_by_email_key(
        &self,
        email_key: &str,
    ) -> Result<Option<i64>, StoreError> {
        Ok(
            sqlx::query_scalar::<_, i64>("SELECT id FROM users WHERE email_key = $1")
                .bind(email_key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}
