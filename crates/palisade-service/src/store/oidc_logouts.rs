//! The `oidc_logouts` queue: back-channel logout tokens to deliver, taken like the mail
//! outbox (leased by moving `next_attempt_at`, PostgreSQL skipping rows another instance
//! holds), so each goes once across instances and survives a restart.

use sqlx::FromRow;

use super::{Store, StoreError};

/// A logout to deliver.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct DueLogout {
    pub(crate) id: String,
    pub(crate) client_id: String,
    pub(crate) user_id: i64,
    pub(crate) sid: String,
    pub(crate) created_at: i64,
    pub(crate) attempts: i64,
}

/// A grant whose session has ended.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct EndedGrant {
    pub(crate) client_id: String,
    pub(crate) user_id: i64,
    pub(crate) sid: String,
    /// 1 when its code was exchanged (an app that never got tokens is not told).
    pub(crate) redeemed: i64,
}

const TAKE_POSTGRES: &str = "UPDATE oidc_logouts SET next_attempt_at = $1, attempts = attempts + 1 \
    WHERE id IN (SELECT id FROM oidc_logouts WHERE sent_at IS NULL AND given_up_at IS NULL \
                 AND next_attempt_at <= $2 ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
    RETURNING id, client_id, user_id, sid, created_at, attempts";
const TAKE_SQLITE: &str = "UPDATE oidc_logouts SET next_attempt_at = $1, attempts = attempts + 1 \
    WHERE id IN (SELECT id FROM oidc_logouts WHERE sent_at IS NULL AND given_up_at IS NULL \
                 AND next_attempt_at <= $2 ORDER BY next_attempt_at LIMIT $3) \
    RETURNING id, client_id, user_id, sid, created_at, attempts";

impl Store {
    /// Marks every grant whose session has ended (deleted, expired, or idle since
    /// `idle_cutoff`) as told, and queues a logout for those `wants` says have a
    /// back-channel, in one transaction: each ended session is queued once, by one
    /// instance. Returns how many were queued.
    pub(crate) async fn queue_logouts_of_ended_sessions(
        &self,
        now: i64,
        idle_cutoff: i64,
        wants: impl Fn(&str) -> bool,
    ) -> Result<usize, StoreError> {
        let mut tx = self.begin_write().await?;
        let ended = sqlx::query_as::<_, EndedGrant>(
            "UPDATE oidc_grants SET logout_done = 1 WHERE logout_done = 0 AND NOT EXISTS \
               (SELECT 1 FROM sessions s WHERE s.id = oidc_grants.session_id \
                AND s.expires_at > $1 AND s.last_seen_at > $2) \
             RETURNING client_id, user_id, sid, redeemed",
        )
        .bind(now)
        .bind(idle_cutoff)
        .fetch_all(&mut *tx)
        .await?;
        let mut seen = std::collections::HashSet::new();
        let mut queued = 0;
        for grant in ended {
            if grant.redeemed == 0
                || !wants(&grant.client_id)
                || !seen.insert((grant.client_id.clone(), grant.sid.clone()))
            {
                continue;
            }
            sqlx::query(
                "INSERT INTO oidc_logouts (id, client_id, user_id, sid, created_at, next_attempt_at) \
                 VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(uuid::Uuid::new_v4().simple().to_string())
            .bind(&grant.client_id)
            .bind(grant.user_id)
            .bind(&grant.sid)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            queued += 1;
        }
        tx.commit().await?;
        Ok(queued)
    }

    /// Takes up to `limit` due logouts, leasing them until `lease_until`.
    pub(crate) async fn take_due_logouts(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<DueLogout>, StoreError> {
        let sql = match self.dialect {
            super::Dialect::Postgres => TAKE_POSTGRES,
            super::Dialect::Sqlite => TAKE_SQLITE,
        };
        Ok(sqlx::query_as::<_, DueLogout>(sql)
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    pub(crate) async fn logout_sent(&self, id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE oidc_logouts SET sent_at = $2, last_error = NULL WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A failed delivery: tried again at `next_attempt_at`, or given up when `None`.
    pub(crate) async fn logout_failed(
        &self,
        id: &str,
        now: i64,
        next_attempt_at: Option<i64>,
        error: &str,
    ) -> Result<(), StoreError> {
        let sql = match next_attempt_at {
            Some(_) => {
                "UPDATE oidc_logouts SET next_attempt_at = $2, last_error = $3 WHERE id = $1"
            }
            None => "UPDATE oidc_logouts SET given_up_at = $2, last_error = $3 WHERE id = $1",
        };
        sqlx::query(sql)
            .bind(id)
            .bind(next_attempt_at.unwrap_or(now))
            .bind(error)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets logouts delivered or given up before `cutoff`.
    pub(crate) async fn delete_old_logouts(&self, cutoff: i64) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM oidc_logouts WHERE sent_at < $1 OR given_up_at < $1")
                .bind(cutoff)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }
}
