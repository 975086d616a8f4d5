//! The `known_browsers` table: the browsers each account signed in from.

use super::{NewMail, Store, StoreError};

/// The most browsers remembered per account: past it, the least recently seen go (a client
/// that keeps no cookies would otherwise add one a sign-in).
const KEPT_PER_ACCOUNT: i64 = 50;

impl Store {
    /// Records a sign-in from the browser behind `browser_hash`. `true` when the browser is
    /// new to an account that knew others (the first browser of an account is not news).
    pub(crate) async fn remember_browser(
        &self,
        user_id: i64,
        browser_hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let touched = sqlx::query(
            "UPDATE known_browsers SET last_seen = $3 WHERE user_id = $1 AND browser_hash = $2",
        )
        .bind(user_id)
        .bind(browser_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if touched == 1 {
            tx.commit().await?;
            return Ok(false);
        }
        // One new browser of an account at a time: the count of the others, and the cap,
        // hold under concurrent sign-ins.
        Self::lock_user(&mut tx, user_id).await?;
        let others =
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM known_browsers WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
        // Two first sign-ins from one browser at once: one of them inserts.
        let inserted = sqlx::query(
            "INSERT INTO known_browsers (user_id, browser_hash, first_seen, last_seen) \
             VALUES ($1, $2, $3, $3) ON CONFLICT DO NOTHING",
        )
        .bind(user_id)
        .bind(browser_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "DELETE FROM known_browsers WHERE user_id = $1 AND browser_hash NOT IN \
             (SELECT browser_hash FROM known_browsers WHERE user_id = $1 ORDER BY last_seen DESC, browser_hash LIMIT $2)",
        )
        .bind(user_id)
        .bind(KEPT_PER_ACCOUNT)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(inserted == 1 && others > 0)
    }

    /// Queues a message that goes with no other change (a notice of a sign-in, which its
    /// session's own transaction already recorded).
    pub(crate) async fn queue_mail(&self, mail: &NewMail) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        Self::insert_mail(&mut tx, mail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets browsers not seen since `cutoff`.
    pub(crate) async fn forget_browsers(&self, cutoff: i64) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM known_browsers WHERE last_seen < $1")
                .bind(cutoff)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }
}
