//! What the console's operations page reads: the mail outbox's state, password hashes per
//! pepper version, and the database's own version.

use sqlx::FromRow;

use super::{Dialect, Store, StoreError};

/// The outbox at a glance.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct OutboxCounts {
    /// Waiting for their first attempt.
    pub(crate) queued: i64,
    /// Tried and failed, to be tried again.
    pub(crate) failing: i64,
    /// Given up (too late to be of use, or refused for good), among the records kept.
    pub(crate) given_up: i64,
    /// Sent, among the records kept.
    pub(crate) sent: i64,
}

/// A message that failed or was given up: what, to whom, and why.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct MailProblem {
    pub(crate) kind: String,
    pub(crate) recipient: String,
    pub(crate) attempts: i64,
    pub(crate) created_at: i64,
    pub(crate) failed_at: Option<i64>,
    pub(crate) last_error: Option<String>,
}

impl Store {
    pub(crate) async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let (queued, failing, given_up, sent) = sqlx::query_as::<_, (i64, i64, i64, i64)>(
            "SELECT \
               COALESCE(SUM(CASE WHEN sealed IS NOT NULL AND attempts = 0 THEN 1 ELSE 0 END), 0), \
               COALESCE(SUM(CASE WHEN sealed IS NOT NULL AND attempts > 0 THEN 1 ELSE 0 END), 0), \
               COALESCE(SUM(CASE WHEN failed_at IS NOT NULL THEN 1 ELSE 0 END), 0), \
               COALESCE(SUM(CASE WHEN sent_at IS NOT NULL THEN 1 ELSE 0 END), 0) \
             FROM outbox",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(OutboxCounts {
            queued,
            failing,
            given_up,
            sent,
        })
    }

    /// The latest messages that failed (still being tried) or were given up.
    pub(crate) async fn mail_problems(&self, limit: i64) -> Result<Vec<MailProblem>, StoreError> {
        Ok(sqlx::query_as::<_, MailProblem>(
            "SELECT kind, recipient, attempts, created_at, failed_at, last_error FROM outbox \
             WHERE last_error IS NOT NULL AND sent_at IS NULL ORDER BY created_at DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Password hashes per pepper version (`v1`, …; `none (imported)` for imported ones).
    pub(crate) async fn hashes_per_pepper(&self) -> Result<Vec<(String, i64)>, StoreError> {
        // `$pepper$<version>$…`: the version is the text between the second and third `$`.
        let sql = match self.dialect {
            Dialect::Sqlite => {
                "SELECT CASE WHEN substr(password_hash, 1, 8) = '$pepper$' \
                   THEN 'v' || substr(password_hash, 9, instr(substr(password_hash, 9), '$') - 1) \
                   ELSE 'none (imported)' END AS version, COUNT(*) FROM users GROUP BY version ORDER BY version"
            }
            Dialect::Postgres => {
                "SELECT CASE WHEN substr(password_hash, 1, 8) = '$pepper$' \
                   THEN 'v' || split_part(substr(password_hash, 9), '$', 1) \
                   ELSE 'none (imported)' END AS version, COUNT(*) FROM users GROUP BY version ORDER BY version"
            }
        };
        Ok(sqlx::query_as::<_, (String, i64)>(sql)
            .fetch_all(&self.pool)
            .await?)
    }

    /// "SQLite 3.46.0" or "PostgreSQL 15.19 (…)".
    pub(crate) async fn database_version(&self) -> Result<String, StoreError> {
        Ok(match self.dialect {
            Dialect::Sqlite => format!(
                "SQLite {}",
                sqlx::query_scalar::<_, String>("SELECT sqlite_version()")
                    .fetch_one(&self.pool)
                    .await?
            ),
            Dialect::Postgres => {
                sqlx::query_scalar::<_, String>("SELECT version()")
                    .fetch_one(&self.pool)
                    .await?
            }
        })
    }
}
