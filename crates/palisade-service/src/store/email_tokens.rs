//! The `email_tokens` table: links that prove an address, one per user and purpose.

use sqlx::FromRow;

use super::{NewMail, Store, StoreError};

/// What an address link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EmailPurpose {
    /// The account's own address.
    Verify,
    /// A new address, which replaces the account's once confirmed.
    Change,
}

impl EmailPurpose {
    fn as_str(self) -> &'static str {
        match self {
            EmailPurpose::Verify => "verify",
            EmailPurpose::Change => "change",
        }
    }
}

/// A current address link.
#[derive(Debug, Clone)]
pub(crate) struct EmailToken {
    pub(crate) user_id: i64,
    pub(crate) purpose: EmailPurpose,
    pub(crate) email: String,
}

#[derive(FromRow)]
struct EmailTokenRow {
    user_id: i64,
    purpose: String,
    email: String,
}

/// How confirming an address link ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EmailConfirmed {
    /// The address is proved (and, for a change, now the account's).
    Done,
    /// Not current: used, replaced, expired, or the account's address changed since.
    Stale,
}

impl Store {
    /// Stores an address link — replacing the user's older one of the same purpose — and
    /// queues `mails` (the link, and for a change a notice to the old address), at once.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn put_email_token(
        &self,
        user_id: i64,
        purpose: EmailPurpose,
        email: &str,
        token_hash: &str,
        now: i64,
        expires_at: i64,
        mails: &[&NewMail],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        Self::put_email_token_tx(
            &mut tx, user_id, purpose, email, token_hash, now, expires_at,
        )
        .await?;
        for mail in mails {
            Self::insert_mail(&mut tx, mail).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Stores an address link inside a transaction, replacing the user's older one of the
    /// same purpose.
    pub(super) async fn put_email_token_tx(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        user_id: i64,
        purpose: EmailPurpose,
        email: &str,
        token_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO email_tokens (token_hash, user_id, purpose, email, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (user_id, purpose) DO UPDATE SET token_hash = excluded.token_hash, \
             email = excluded.email, created_at = excluded.created_at, expires_at = excluded.expires_at",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(purpose.as_str())
        .bind(email)
        .bind(now)
        .bind(expires_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The current address link behind `token_hash` (reading it uses nothing up).
    pub(crate) async fn email_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<EmailToken>, StoreError> {
        let row = sqlx::query_as::<_, EmailTokenRow>(
            "SELECT user_id, purpose, email FROM email_tokens WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|r| {
            let purpose = match r.purpose.as_str() {
                "verify" => EmailPurpose::Verify,
                "change" => EmailPurpose::Change,
                _ => return None,
            };
            Some(EmailToken {
                user_id: r.user_id,
                purpose,
                email: r.email,
            })
        }))
    }

    /// Uses the link up and proves its address, once: a verification marks the account's
    /// address verified if it is still `token.email`; a change makes `token.email` (with
    /// `email_key`) the account's address and queues `notice` to the old one. A change to
    /// an address another account took meanwhile is a conflict, and uses nothing up.
    pub(crate) async fn confirm_email_token(
        &self,
        token_hash: &str,
        token: &EmailToken,
        email_key: &str,
        now: i64,
        notice: Option<&NewMail>,
    ) -> Result<EmailConfirmed, StoreError> {
        self.revoking(async {
            let mut tx = self.begin_write().await?;
            let taken = sqlx::query(
                "DELETE FROM email_tokens WHERE token_hash = $1 AND user_id = $2 AND purpose = $3 \
                 AND email = $4 AND expires_at > $5",
            )
            .bind(token_hash)
            .bind(token.user_id)
            .bind(token.purpose.as_str())
            .bind(&token.email)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if taken != 1 {
                tx.rollback().await?;
                return Ok::<_, StoreError>(EmailConfirmed::Stale);
            }
            let changed = match token.purpose {
                EmailPurpose::Verify => sqlx::query(
                    "UPDATE users SET email_verified_at = $1 WHERE id = $2 AND email = $3",
                )
                .bind(now)
                .bind(token.user_id)
                .bind(&token.email)
                .execute(&mut *tx)
                .await?
                .rows_affected(),
                EmailPurpose::Change => {
                    let updated = sqlx::query(
                        "UPDATE users SET email = $1, email_key = $2, email_verified_at = $3 WHERE id = $4",
                    )
                    .bind(&token.email)
                    .bind(email_key)
                    .bind(now)
                    .bind(token.user_id)
                    .execute(&mut *tx)
                    .await;
                    match updated {
                        Ok(done) => done.rows_affected(),
                        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                            tx.rollback().await?;
                            return Err(StoreError::Conflict("email"));
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            };
            if changed != 1 {
                tx.rollback().await?;
                return Ok(EmailConfirmed::Stale);
            }
            // Links sent to the old address (to verify it, or to reset the password) give
            // it no power over the account now.
            if token.purpose == EmailPurpose::Change {
                for sql in [
                    "DELETE FROM email_tokens WHERE user_id = $1",
                    "DELETE FROM password_resets WHERE user_id = $1",
                ] {
                    sqlx::query(sql)
                        .bind(token.user_id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            if let Some(notice) = notice {
                Self::insert_mail(&mut tx, notice).await?;
            }
            tx.commit().await?;
            Ok(EmailConfirmed::Done)
        })
        .await
    }

    /// Deletes address links past their expiry.
    pub(crate) async fn delete_expired_email_tokens(&self, now: i64) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM email_tokens WHERE expires_at <= $1")
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }
}
