//! The `api_tokens` table.

use sqlx::FromRow;

use super::{Store, StoreError, UserRow};

/// A token as listed (never its hash).
#[derive(Debug, Clone, FromRow)]
pub(crate) struct ApiTokenRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) created_at: i64,
    pub(crate) expires_at: Option<i64>,
    pub(crate) last_used_at: Option<i64>,
    /// '' (forward-auth and `/api/v1/me`) or `admin` (the admin API too).
    pub(crate) scope: String,
}

/// A current token and whose it is.
pub(crate) struct TokenOwner {
    pub(crate) token_id: String,
    pub(crate) last_used_at: Option<i64>,
    pub(crate) scope: String,
    pub(crate) user: UserRow,
    pub(crate) has_factor: bool,
}

#[derive(FromRow)]
struct TokenUser {
    token_id: String,
    last_used_at: Option<i64>,
    scope: String,
    id: i64,
    username: String,
    email: String,
    display_name: Option<String>,
    disabled: i64,
    created_at: i64,
    email_verified_at: Option<i64>,
    /// 1 when the user has a confirmed second factor.
    has_factor: i64,
}

/// Whether a token was inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenInsert {
    Inserted,
    /// The user holds `limit` tokens already.
    AtLimit,
    /// The session asking has ended meanwhile (a password change ended it).
    SessionEnded,
}

impl Store {
    /// Inserts a token for the user of session `session_id`, unless the user already has
    /// `limit` or the session has ended. The user's row is locked first — the lock a
    /// password change takes too — so that creations in flight cannot all see room for one
    /// more, and none can slip in after a password change that ended its session and
    /// revoked every token (checked, then inserted, in one transaction).
    pub(crate) async fn insert_api_token(
        &self,
        user_id: i64,
        session_id: &str,
        token: &ApiTokenRow,
        token_hash: &str,
        limit: i64,
    ) -> Result<TokenInsert, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE users SET disabled = disabled WHERE id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let live = sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM sessions WHERE id = $1 AND user_id = $2",
        )
        .bind(session_id)
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
        if live == 0 {
            tx.rollback().await?;
            return Ok(TokenInsert::SessionEnded);
        }
        let inserted = sqlx::query(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, expires_at, scope) \
             SELECT $1, $2, $3, $4, $5, $6, $8 \
             WHERE (SELECT COUNT(*) FROM api_tokens WHERE user_id = $2) < $7",
        )
        .bind(&token.id)
        .bind(user_id)
        .bind(&token.name)
        .bind(token_hash)
        .bind(token.created_at)
        .bind(token.expires_at)
        .bind(limit)
        .bind(&token.scope)
        .execute(&mut *tx)
        .await;
        let inserted = match inserted {
            Ok(done) if done.rows_affected() > 0 => TokenInsert::Inserted,
            Ok(_) => TokenInsert::AtLimit,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::Conflict("name"));
            }
            Err(e) => return Err(e.into()),
        };
        tx.commit().await?;
        Ok(inserted)
    }

    pub(crate) async fn api_tokens_of(&self, user_id: i64) -> Result<Vec<ApiTokenRow>, StoreError> {
        Ok(sqlx::query_as::<_, ApiTokenRow>(
            "SELECT id, name, created_at, expires_at, last_used_at, scope FROM api_tokens \
             WHERE user_id = $1 ORDER BY created_at, name",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Deletes one of the user's tokens; `false` if they have none by that id.
    pub(crate) async fn revoke_api_token(
        &self,
        user_id: i64,
        id: &str,
    ) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("DELETE FROM api_tokens WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(user_id)
                .execute(&self.pool)
                .await?
                .rows_affected()
                > 0,
        )
    }

    /// The token's id, its last use, its user and whether they have a second factor, if
    /// the token is current and the user enabled.
    pub(crate) async fn api_token_user(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<TokenOwner>, StoreError> {
        let row = sqlx::query_as::<_, TokenUser>(
            "SELECT t.id AS token_id, t.last_used_at, t.scope, u.id, u.username, u.email, u.display_name, u.disabled, u.created_at, u.email_verified_at, \
             CASE WHEN EXISTS (SELECT 1 FROM second_factors f WHERE f.user_id = u.id AND f.confirmed_at IS NOT NULL) THEN 1 ELSE 0 END AS has_factor \
             FROM api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > $2) AND u.disabled = 0",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| TokenOwner {
            token_id: r.token_id,
            last_used_at: r.last_used_at,
            scope: r.scope,
            user: UserRow {
                id: r.id,
                username: r.username,
                email: r.email,
                display_name: r.display_name,
                disabled: r.disabled,
                created_at: r.created_at,
                email_verified_at: r.email_verified_at,
            },
            has_factor: r.has_factor != 0,
        }))
    }

    pub(crate) async fn touch_api_token(&self, id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{notice, postgres_store, sqlite_store};
    use crate::store::{NewUser, SessionRow};

    fn session(id: &str, user_id: i64) -> SessionRow {
        SessionRow {
            id: id.into(),
            user_id,
            created_at: 0,
            last_seen_at: 0,
            last_auth_at: 0,
            expires_at: i64::MAX,
            client_addr: "127.0.0.1".into(),
            user_agent: "test".into(),
            second_factor: 0,
        }
    }

    /// A thief's session read as current, its token insert arriving just after the
    /// owner's password change (which ended that session and revoked every token): the
    /// insert is refused, so no token minted with the old password outlives it.
    async fn no_token_slips_in_after_a_password_change(store: &Store) {
        let user_id = store
            .insert_user(
                NewUser {
                    username: "erin",
                    email: "erin@example.com",
                    email_key: "erin@example.com",
                    display_name: None,
                    password_hash: "$argon2id$stand-in",
                    legacy_cost: None,
                },
                0,
                None,
            )
            .await
            .unwrap();
        let mut tx = store.pool.begin().await.unwrap();
        for id in ["owner", "thief"] {
            crate::store::sessions::insert(&session(id, user_id), &format!("hash-{id}"))
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        let row = |id: &str| ApiTokenRow {
            id: id.into(),
            name: id.into(),
            created_at: 0,
            expires_at: None,
            last_used_at: None,
            scope: String::new(),
        };
        store
            .change_password(user_id, "$argon2id$new", "owner", 1, &notice(user_id))
            .await
            .unwrap();
        let late = store
            .insert_api_token(user_id, "thief", &row("late"), "h1", 50)
            .await
            .unwrap();
        assert_eq!(late, TokenInsert::SessionEnded);
        let own = store
            .insert_api_token(user_id, "owner", &row("own"), "h2", 50)
            .await
            .unwrap();
        assert_eq!(own, TokenInsert::Inserted);
        let names: Vec<String> = store
            .api_tokens_of(user_id)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, ["own"]);
    }

    #[tokio::test]
    async fn no_token_slips_in_after_a_password_change_on_sqlite() {
        let (store, _dir) = sqlite_store().await;
        no_token_slips_in_after_a_password_change(&store).await;
    }

    #[tokio::test]
    async fn no_token_slips_in_after_a_password_change_on_postgres() {
        let Some((store, db)) = postgres_store("token after a password change").await else {
            return;
        };
        no_token_slips_in_after_a_password_change(&store).await;
        drop(store);
        db.drop_db().await;
    }
}
