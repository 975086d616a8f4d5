//! The `sessions` table.

use std::sync::Arc;

use sqlx::FromRow;

use super::session_cache::SessionAndUser;
use super::{Store, StoreError, UserRow};

/// The insert of a new session (its token only as a hash), to run inside a transaction.
pub(super) fn insert<'q>(
    session: &'q SessionRow,
    token_hash: &'q str,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    sqlx::query(
        "INSERT INTO sessions (id, user_id, token_hash, created_at, last_seen_at, last_auth_at, expires_at, client_addr, user_agent, second_factor) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&session.id)
    .bind(session.user_id)
    .bind(token_hash)
    .bind(session.created_at)
    .bind(session.last_seen_at)
    .bind(session.last_auth_at)
    .bind(session.expires_at)
    .bind(&session.client_addr)
    .bind(&session.user_agent)
    .bind(session.second_factor)
}

#[derive(Debug, Clone, FromRow)]
pub(crate) struct SessionRow {
    pub(crate) id: String,
    pub(crate) user_id: i64,
    pub(crate) created_at: i64,
    pub(crate) last_seen_at: i64,
    pub(crate) last_auth_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) client_addr: String,
    pub(crate) user_agent: String,
    /// 1 when the session began with a second factor, or its user proved one since.
    pub(crate) second_factor: i64,
}

#[derive(FromRow)]
struct SessionWithUser {
    id: String,
    user_id: i64,
    created_at: i64,
    last_seen_at: i64,
    last_auth_at: i64,
    expires_at: i64,
    client_addr: String,
    user_agent: String,
    second_factor: i64,
    username: String,
    email: String,
    display_name: Option<String>,
    disabled: i64,
    user_created_at: i64,
    email_verified_at: Option<i64>,
}

impl Store {
    /// The session behind a token hash and its user (never its password hash): from this
    /// instance's memory when it read them less than `FRESH_FOR` ago and nothing was
    /// revoked here since, else in one round trip.
    pub(crate) async fn session_with_user(
        &self,
        token_hash: &str,
    ) -> Result<Option<SessionAndUser>, StoreError> {
        if let Some(hit) = self.sessions.get(token_hash) {
            return Ok(Some(hit));
        }
        self.read_session_with_user(token_hash).await
    }

    /// Like [`Store::session_with_user`], always from the database (to confirm an expiry
    /// seen in memory: another instance may have recorded a use since).
    pub(crate) async fn read_session_with_user(
        &self,
        token_hash: &str,
    ) -> Result<Option<SessionAndUser>, StoreError> {
        let generation = self.sessions.generation();
        let row = sqlx::query_as::<_, SessionWithUser>(
            "SELECT s.id, s.user_id, s.created_at, s.last_seen_at, s.last_auth_at, s.expires_at, s.client_addr, s.user_agent, \
                    s.second_factor, u.username, u.email, u.display_name, u.disabled, u.created_at AS user_created_at, u.email_verified_at \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else {
            return Ok(None);
        };
        let user = UserRow {
            id: r.user_id,
            username: r.username,
            email: r.email,
            display_name: r.display_name,
            disabled: r.disabled,
            created_at: r.user_created_at,
            email_verified_at: r.email_verified_at,
        };
        let session = SessionRow {
            id: r.id,
            user_id: r.user_id,
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
            last_auth_at: r.last_auth_at,
            expires_at: r.expires_at,
            client_addr: r.client_addr,
            user_agent: r.user_agent,
            second_factor: r.second_factor,
        };
        let found = (Arc::new(session), Arc::new(user));
        self.sessions.put(token_hash, &found, generation);
        Ok(Some(found))
    }

    /// Records activity, at most once a minute per session.
    pub(crate) async fn touch_session(
        &self,
        token_hash: &str,
        id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $3",
        )
        .bind(now)
        .bind(id)
        .bind(now - 60)
        .execute(&self.pool)
        .await;
        // The remembered `last seen` is now old: the next request reads the new one.
        self.sessions.forget(token_hash);
        done?;
        Ok(())
    }

    /// Gives a session a new token and a fresh password-entry time (after re-authentication).
    pub(crate) async fn reissue_session(
        &self,
        id: &str,
        token_hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        // The old token ends here.
        self.revoking(
            sqlx::query("UPDATE sessions SET token_hash = $1, last_auth_at = $2, last_seen_at = $2 WHERE id = $3")
                .bind(token_hash)
                .bind(now)
                .bind(id)
                .execute(&self.pool),
        )
        .await?;
        Ok(())
    }

    pub(crate) async fn sessions_of(&self, user_id: i64) -> Result<Vec<SessionRow>, StoreError> {
        Ok(sqlx::query_as::<_, SessionRow>(
            "SELECT id, user_id, created_at, last_seen_at, last_auth_at, expires_at, client_addr, user_agent, second_factor \
             FROM sessions WHERE user_id = $1 ORDER BY created_at DESC LIMIT 100",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Ends one of the user's sessions; `false` when it is not theirs or does not exist.
    pub(crate) async fn end_session(&self, user_id: i64, id: &str) -> Result<bool, StoreError> {
        let done = self
            .revoking(
                sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
                    .bind(id)
                    .bind(user_id)
                    .execute(&self.pool),
            )
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn end_every_session(&self) -> Result<u64, StoreError> {
        let done = self
            .revoking(sqlx::query("DELETE FROM sessions").execute(&self.pool))
            .await?;
        Ok(done.rows_affected())
    }

    /// Records that this session's user proved a second factor (they just added one).
    pub(crate) async fn mark_second_factor(&self, session_id: &str) -> Result<(), StoreError> {
        self.revoking(
            sqlx::query("UPDATE sessions SET second_factor = 1 WHERE id = $1")
                .bind(session_id)
                .execute(&self.pool),
        )
        .await?;
        Ok(())
    }

    /// Ends every session of the user but `keep`; returns how many.
    pub(crate) async fn end_other_sessions(
        &self,
        user_id: i64,
        keep: &str,
    ) -> Result<u64, StoreError> {
        let done = self
            .revoking(
                sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
                    .bind(user_id)
                    .bind(keep)
                    .execute(&self.pool),
            )
            .await?;
        Ok(done.rows_affected())
    }

    /// Ends every session of the user, and every app's grant (offline ones included),
    /// in one transaction; returns how many sessions.
    pub(crate) async fn end_all_sessions(&self, user_id: i64, now: i64) -> Result<u64, StoreError> {
        self.revoking(async {
            let mut tx = self.begin_write().await?;
            let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            super::revoke_grants_of_user(&mut tx, user_id, now).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(ended)
        })
        .await
    }

    pub(crate) async fn delete_expired_sessions(
        &self,
        now: i64,
        idle_cutoff: i64,
    ) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
                .bind(now)
                .bind(idle_cutoff)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }
}
