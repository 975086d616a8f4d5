//! The OpenID provider's grants and what is issued from them: `oidc_grants`, `oidc_codes`,
//! `oidc_refresh_tokens`, and the `jti`s of client assertions (`oidc_assertions`). Every
//! single-use value is spent by one conditional `UPDATE` (or `INSERT`): of any number of
//! requests in flight, one wins.

use sqlx::FromRow;

use super::{Store, StoreError};

/// One sign-in of a user to a client.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct GrantRow {
    pub(crate) id: String,
    pub(crate) client_id: String,
    pub(crate) user_id: i64,
    pub(crate) session_id: String,
    pub(crate) sid: String,
    pub(crate) offline: i64,
    pub(crate) scope: String,
    pub(crate) auth_time: i64,
    pub(crate) second_factor: i64,
    pub(crate) created_at: i64,
    /// When its session was last used (read with the grant; not stored in it).
    #[sqlx(default)]
    pub(crate) session_seen_at: Option<i64>,
}

/// A code as issued (its hash is the key).
#[derive(Clone, FromRow)]
pub(crate) struct CodeRow {
    pub(crate) grant_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) code_challenge: Option<String>,
    pub(crate) nonce: Option<String>,
    pub(crate) expires_at: i64,
    pub(crate) used_at: Option<i64>,
}

impl std::fmt::Debug for CodeRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeRow")
            .field("grant_id", &self.grant_id)
            .finish_non_exhaustive()
    }
}

/// A refresh token to store with the spending of a code or of another refresh token, in
/// the same transaction (one commit, one flush to disk, for the whole exchange).
#[derive(Clone, Copy)]
pub(crate) struct NewRefresh<'a> {
    pub(crate) token_hash: &'a str,
    pub(crate) expires_at: i64,
}

/// What spending a code or a refresh token found.
#[derive(Debug)]
pub(crate) enum Spent {
    /// Spent by this request: the grant (alive) and its user; the new refresh token, if
    /// any, is stored.
    Issued(Box<(GrantRow, super::UserRow)>),
    /// Spent by this request, but the sign-in it came from has ended.
    Ended,
    /// Lost to another request that spent it first (or to a replay that revoked its grant).
    Lost,
}

const USER_BY_ID: &str = "SELECT id, username, email, display_name, disabled, created_at, email_verified_at FROM users WHERE id = $1";

/// A grant by id if it is alive: not revoked (unless `$4` is 1: its code or refresh token
/// was just spent by a statement that checked that), its user not disabled, and — unless
/// it is offline — its session current. `$1` the id, `$2` now, `$3` the idle cutoff (now −
/// idle timeout).
pub(super) const LIVE_GRANT: &str = "SELECT g.id, g.client_id, g.user_id, g.session_id, g.sid, g.offline, g.scope, \
      g.auth_time, g.second_factor, g.created_at, \
      (SELECT s.last_seen_at FROM sessions s WHERE s.id = g.session_id) AS session_seen_at \
    FROM oidc_grants g WHERE g.id = $1 AND ($4 = 1 OR g.revoked_at IS NULL) \
    AND EXISTS (SELECT 1 FROM users u WHERE u.id = g.user_id AND u.disabled = 0) \
    AND (g.offline = 1 OR EXISTS (SELECT 1 FROM sessions s WHERE s.id = g.session_id \
         AND s.expires_at > $2 AND s.last_seen_at > $3))";

impl Store {
    /// Inserts a grant and its code, if the session that signed in is still there.
    pub(crate) async fn insert_grant_with_code(
        &self,
        grant: &GrantRow,
        code_hash: &str,
        code: &CodeRow,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO oidc_grants (id, client_id, user_id, session_id, sid, offline, scope, \
               auth_time, second_factor, created_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 \
             WHERE EXISTS (SELECT 1 FROM sessions WHERE id = $4 AND user_id = $3)",
        )
        .bind(&grant.id)
        .bind(&grant.client_id)
        .bind(grant.user_id)
        .bind(&grant.session_id)
        .bind(&grant.sid)
        .bind(grant.offline)
        .bind(&grant.scope)
        .bind(grant.auth_time)
        .bind(grant.second_factor)
        .bind(grant.created_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO oidc_codes (code_hash, grant_id, redirect_uri, code_challenge, nonce, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(code_hash)
        .bind(&code.grant_id)
        .bind(&code.redirect_uri)
        .bind(&code.code_challenge)
        .bind(&code.nonce)
        .bind(code.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A code issued to `client_id`, whether or not it was used.
    pub(crate) async fn code_of_client(
        &self,
        code_hash: &str,
        client_id: &str,
    ) -> Result<Option<CodeRow>, StoreError> {
        Ok(sqlx::query_as::<_, CodeRow>(
            "SELECT c.grant_id, c.redirect_uri, c.code_challenge, c.nonce, c.expires_at, c.used_at \
             FROM oidc_codes c JOIN oidc_grants g ON g.id = c.grant_id \
             WHERE c.code_hash = $1 AND g.client_id = $2",
        )
        .bind(code_hash)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Spends a code whose grant is not revoked and, in the same transaction, reads the
    /// grant (alive but for a replay's revocation racing this) and its user and stores the
    /// new refresh token. `Lost`: another request spent it first, or a replay revoked
    /// its grant.
    pub(crate) async fn spend_code(
        &self,
        code_hash: &str,
        grant_id: &str,
        now: i64,
        idle_cutoff: i64,
        refresh: Option<NewRefresh<'_>>,
    ) -> Result<Spent, StoreError> {
        let mut tx = self.begin_write().await?;
        let spent = sqlx::query(
            "UPDATE oidc_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL \
             AND grant_id IN (SELECT id FROM oidc_grants WHERE revoked_at IS NULL)",
        )
        .bind(code_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if spent == 0 {
            tx.rollback().await?;
            return Ok(Spent::Lost);
        }
        // The app now knows this sign-in's `sid`: its end is worth telling it.
        sqlx::query("UPDATE oidc_grants SET redeemed = 1 WHERE id = $1")
            .bind(grant_id)
            .execute(&mut *tx)
            .await?;
        Self::issue_in(tx, grant_id, now, idle_cutoff, refresh).await
    }

    /// The spent grant's rows and the new refresh token, then the commit.
    pub(super) async fn issue_in(
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        grant_id: &str,
        now: i64,
        idle_cutoff: i64,
        refresh: Option<NewRefresh<'_>>,
    ) -> Result<Spent, StoreError> {
        let grant = sqlx::query_as::<_, GrantRow>(LIVE_GRANT)
            .bind(grant_id)
            .bind(now)
            .bind(idle_cutoff)
            .bind(1i64)
            .fetch_optional(&mut *tx)
            .await?;
        let user = match &grant {
            Some(grant) => {
                sqlx::query_as::<_, super::UserRow>(USER_BY_ID)
                    .bind(grant.user_id)
                    .fetch_optional(&mut *tx)
                    .await?
            }
            None => None,
        };
        let (Some(grant), Some(user)) = (grant, user) else {
            tx.commit().await?;
            return Ok(Spent::Ended);
        };
        if let Some(refresh) = refresh {
            sqlx::query(
                "INSERT INTO oidc_refresh_tokens (token_hash, grant_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(refresh.token_hash)
            .bind(grant_id)
            .bind(now)
            .bind(refresh.expires_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Spent::Issued(Box::new((grant, user))))
    }

    /// The grant `id`, if it is alive at `now` (sessions idle since `idle_cutoff` are over).
    pub(crate) async fn live_grant(
        &self,
        id: &str,
        now: i64,
        idle_cutoff: i64,
    ) -> Result<Option<GrantRow>, StoreError> {
        Ok(sqlx::query_as::<_, GrantRow>(LIVE_GRANT)
            .bind(id)
            .bind(now)
            .bind(idle_cutoff)
            .bind(0i64)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Revokes a grant (and so everything issued from it); `true` when this call did.
    pub(crate) async fn revoke_grant(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let done = self
            .revoking(
                sqlx::query(
                    "UPDATE oidc_grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(id)
                .bind(now)
                .execute(&self.pool),
            )
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// [`Store::live_grant`] with its user, from this instance's short memory when fresh
    /// (see `session_cache`: a revocation here is seen at once, elsewhere within 500 ms).
    pub(crate) async fn live_grant_remembered(
        &self,
        id: &str,
        now: i64,
        idle_cutoff: i64,
    ) -> Result<Option<super::session_cache::GrantAndUser>, StoreError> {
        if let Some(found) = self.sessions.grant(id) {
            return Ok(Some(found));
        }
        let read = self.sessions.generation();
        let Some(grant) = self.live_grant(id, now, idle_cutoff).await? else {
            return Ok(None);
        };
        let Some(user) = self.user_by_id(grant.user_id).await? else {
            return Ok(None);
        };
        let found = (std::sync::Arc::new(grant), std::sync::Arc::new(user));
        self.sessions.put_grant(id, &found, read);
        Ok(Some(found))
    }

    /// The user is active in an app: their session's last use moves (at most once a
    /// minute), as a page's request would move it. (Nothing is revoked: sessions this
    /// instance remembers stay remembered; a later use only keeps them longer.)
    pub(crate) async fn touch_grant_session(
        &self,
        session_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at <= $2 - 60",
        )
        .bind(session_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a client assertion's `jti` until `expires_at`; `false` when it was seen.
    pub(crate) async fn first_use_of_assertion(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "INSERT INTO oidc_assertions (client_id, jti, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(client_id)
        .bind(jti)
        .bind(expires_at)
        .execute(&self.pool)
        .await?
        .rows_affected()
            > 0)
    }

    /// Deletes what can no longer be used: expired codes, refresh tokens and assertion
    /// ids, and grants revoked or left with nothing a day ago.
    pub(crate) async fn delete_expired_oidc_rows(&self, now: i64) -> Result<u64, StoreError> {
        let mut deleted = 0;
        for sql in [
            "DELETE FROM oidc_codes WHERE expires_at <= $1 - 86400",
            "DELETE FROM oidc_refresh_tokens WHERE expires_at <= $1 OR used_at <= $1 - 86400",
            "DELETE FROM oidc_assertions WHERE expires_at <= $1",
            "DELETE FROM oidc_grants WHERE logout_done = 1 AND (revoked_at <= $1 - 86400 OR \
               (NOT EXISTS (SELECT 1 FROM oidc_refresh_tokens t WHERE t.grant_id = oidc_grants.id) \
                AND created_at <= $1 - 86400))",
        ] {
            deleted += sqlx::query(sql)
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        Ok(deleted)
    }
}

/// Revokes every grant of a user, inside the caller's transaction (a password change, a
/// support factor reset, ending every session).
pub(crate) async fn revoke_grants_of_user(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user_id: i64,
    now: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE oidc_grants SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user_id)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}
