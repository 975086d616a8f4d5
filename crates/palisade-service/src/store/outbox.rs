//! The `outbox` table: mail waiting to be sent, and the record that it went.

use sqlx::FromRow;

use super::{Dialect, Store, StoreError};

/// A message to queue: written in the transaction of the change it tells of.
pub(crate) struct NewMail {
    /// Random; also the message's `Message-ID` and part of its sealing's associated data.
    pub(crate) id: String,
    pub(crate) user_id: Option<i64>,
    pub(crate) kind: &'static str,
    pub(crate) recipient: String,
    pub(crate) subject: String,
    /// The bodies, sealed with the keyring (they may hold a link that is a credential).
    pub(crate) sealed: String,
    /// The key that sealed them.
    pub(crate) key_id: String,
    pub(crate) created_at: i64,
    /// Past this, it is not worth sending (a reset link has expired): given up.
    pub(crate) discard_after: i64,
}

impl std::fmt::Debug for NewMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewMail")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("sealed", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// A message a worker took: it alone sends it until `next_attempt_at` (its lease).
#[derive(FromRow)]
pub(crate) struct DueMail {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) recipient: String,
    pub(crate) subject: String,
    pub(crate) sealed: String,
    pub(crate) attempts: i64,
    pub(crate) discard_after: i64,
}

impl std::fmt::Debug for DueMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DueMail")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("attempts", &self.attempts)
            .field("sealed", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// Takes up to `$3` due messages (`next_attempt_at <= $2`), leasing them until `$1`.
/// PostgreSQL skips rows another instance is taking; SQLite has one writer at a time.
const TAKE_POSTGRES: &str = "UPDATE outbox SET next_attempt_at = $1, attempts = attempts + 1 \
    WHERE id IN (SELECT id FROM outbox WHERE sealed IS NOT NULL AND next_attempt_at <= $2 \
                 ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
    RETURNING id, kind, recipient, subject, sealed, attempts, discard_after";
const TAKE_SQLITE: &str = "UPDATE outbox SET next_attempt_at = $1, attempts = attempts + 1 \
    WHERE id IN (SELECT id FROM outbox WHERE sealed IS NOT NULL AND next_attempt_at <= $2 \
                 ORDER BY next_attempt_at LIMIT $3) \
    RETURNING id, kind, recipient, subject, sealed, attempts, discard_after";

impl Store {
    /// Queues `mail` inside a transaction that changes what it tells of.
    pub(super) async fn insert_mail(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        mail: &NewMail,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO outbox (id, user_id, kind, recipient, subject, sealed, key_id, created_at, discard_after, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8)",
        )
        .bind(&mail.id)
        .bind(mail.user_id)
        .bind(mail.kind)
        .bind(&mail.recipient)
        .bind(&mail.subject)
        .bind(&mail.sealed)
        .bind(&mail.key_id)
        .bind(mail.created_at)
        .bind(mail.discard_after)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Takes up to `limit` messages due at `now` for this worker alone, until `lease_until`.
    pub(crate) async fn take_due_mail(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<DueMail>, StoreError> {
        let sql = match self.dialect {
            Dialect::Postgres => TAKE_POSTGRES,
            Dialect::Sqlite => TAKE_SQLITE,
        };
        Ok(sqlx::query_as::<_, DueMail>(sql)
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    /// The server took the message: what it said is forgotten, that it went is kept.
    pub(crate) async fn mail_sent(&self, id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET sent_at = $1, sealed = NULL, last_error = NULL WHERE id = $2",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A failed attempt: tried again at `retry_at`.
    pub(crate) async fn mail_retry(
        &self,
        id: &str,
        retry_at: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET next_attempt_at = $1, last_error = $2 WHERE id = $3")
            .bind(retry_at)
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Given up (too late to be of use, or it can never be sent): forgotten like a sent one.
    pub(crate) async fn mail_given_up(
        &self,
        id: &str,
        now: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET failed_at = $1, sealed = NULL, last_error = $2 WHERE id = $3",
        )
        .bind(now)
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets the records of messages sent or given up before `cutoff`.
    pub(crate) async fn delete_old_mail(&self, cutoff: i64) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM outbox WHERE sealed IS NULL AND created_at < $1")
                .bind(cutoff)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }
}
