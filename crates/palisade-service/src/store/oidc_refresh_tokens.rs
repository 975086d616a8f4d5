//! The `oidc_refresh_tokens` table: refresh tokens, rotated at every use; a spent one
//! presented again revokes its grant.

use super::oidc_grants::{NewRefresh, Spent};
use super::{Store, StoreError};

/// What presenting a refresh token did.
#[derive(Debug)]
pub(crate) enum RefreshUse {
    /// Spent now (its successor stored when the grant is alive).
    Rotated(Spent),
    /// Already spent: the grant is revoked (`true`: by this call).
    Reused { grant_id: String, revoked_now: bool },
    /// Unknown, expired, another client's, or its grant revoked.
    Invalid,
}

impl Store {
    /// Spends a refresh token of `client_id`'s and, in the same transaction, reads its
    /// grant and user and stores `refresh`, its successor — or, when it was spent before,
    /// revokes its whole grant (RFC 9700 §4.14.2).
    pub(crate) async fn use_refresh_token(
        &self,
        token_hash: &str,
        client_id: &str,
        now: i64,
        idle_cutoff: i64,
        refresh: NewRefresh<'_>,
    ) -> Result<RefreshUse, StoreError> {
        let mut tx = self.begin_write().await?;
        let spent = sqlx::query_scalar::<_, String>(
            "UPDATE oidc_refresh_tokens SET used_at = $2 \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
               AND grant_id IN (SELECT id FROM oidc_grants WHERE client_id = $3 AND revoked_at IS NULL) \
             RETURNING grant_id",
        )
        .bind(token_hash)
        .bind(now)
        .bind(client_id)
        .fetch_all(&mut *tx)
        .await?;
        if let Some(grant_id) = spent.into_iter().next() {
            return Ok(RefreshUse::Rotated(
                Self::issue_in(tx, &grant_id, now, idle_cutoff, Some(refresh)).await?,
            ));
        }
        tx.rollback().await?;
        let used = sqlx::query_scalar::<_, String>(
            "SELECT t.grant_id FROM oidc_refresh_tokens t JOIN oidc_grants g ON g.id = t.grant_id \
             WHERE t.token_hash = $1 AND g.client_id = $2 AND t.used_at IS NOT NULL",
        )
        .bind(token_hash)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match used {
            Some(grant_id) => {
                let revoked_now = self.revoke_grant(&grant_id, now).await?;
                RefreshUse::Reused {
                    grant_id,
                    revoked_now,
                }
            }
            None => RefreshUse::Invalid,
        })
    }

    /// The grant of a refresh token of `client_id`'s (for revocation and introspection).
    pub(crate) async fn grant_of_refresh_token(
        &self,
        token_hash: &str,
        client_id: &str,
        now: i64,
    ) -> Result<Option<(String, i64, i64)>, StoreError> {
        Ok(sqlx::query_as::<_, (String, i64, i64)>(
            "SELECT t.grant_id, t.created_at, t.expires_at FROM oidc_refresh_tokens t \
             JOIN oidc_grants g ON g.id = t.grant_id \
             WHERE t.token_hash = $1 AND g.client_id = $2 AND t.used_at IS NULL AND t.expires_at > $3",
        )
        .bind(token_hash)
        .bind(client_id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?)
    }
}
