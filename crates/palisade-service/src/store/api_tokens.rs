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
}

#[derive(FromRow)]
struct TokenUser {
    token_id: String,
    last_used_at: Option<i64>,
    id: i64,
    username: String,
    email: String,
    display_name: Option<String>,
    disabled: i64,
    created_at: i64,
}

impl Store {
    /// Inserts a token unless the user already has `limit`; `false` when at the limit.
    /// The user's row is locked first, so that creations in flight cannot all see room
    /// for one more (checked, then inserted, in one transaction).
    pub(crate) async fn insert_api_token(
        &self,
        user_id: i64,
        token: &ApiTokenRow,
        token_hash: &str,
        limit: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE users SET disabled = disabled WHERE id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, expires_at) \
             SELECT $1, $2, $3, $4, $5, $6 \
             WHERE (SELECT COUNT(*) FROM api_tokens WHERE user_id = $2) < $7",
        )
        .bind(&token.id)
        .bind(user_id)
        .bind(&token.name)
        .bind(token_hash)
        .bind(token.created_at)
        .bind(token.expires_at)
        .bind(limit)
        .execute(&mut *tx)
        .await;
        let inserted = match inserted {
            Ok(done) => done.rows_affected() > 0,
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
            "SELECT id, name, created_at, expires_at, last_used_at FROM api_tokens \
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

    /// The token's id, its last use and its user, if the token is current and the user
    /// enabled.
    pub(crate) async fn api_token_user(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<(String, Option<i64>, UserRow)>, StoreError> {
        let row = sqlx::query_as::<_, TokenUser>(
            "SELECT t.id AS token_id, t.last_used_at, u.id, u.username, u.email, u.display_name, u.disabled, u.created_at \
             FROM api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > $2) AND u.disabled = 0",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| {
            (
                r.token_id,
                r.last_used_at,
                UserRow {
                    id: r.id,
                    username: r.username,
                    email: r.email,
                    display_name: r.display_name,
                    disabled: r.disabled,
                    created_at: r.created_at,
                },
            )
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
