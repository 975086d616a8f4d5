//! The OpenID provider's long-lived rows: stored clients (`oidc_clients`), users' subjects
//! (`oidc_subjects`), the provider's settings (`oidc_settings`) and consents
//! (`oidc_consents`).

use sqlx::FromRow;

use super::{Store, StoreError};

/// A client made with `palisade oidc client add`.
#[derive(Clone, FromRow)]
pub(crate) struct StoredClient {
    pub(crate) id: String,
    /// SHA-256 (hex) of its secret; `None` for a public client.
    pub(crate) secret_hash: Option<String>,
    /// Its settings, as JSON.
    pub(crate) settings: String,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

impl std::fmt::Debug for StoredClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredClient")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A user's consent to one client, as the account page lists it.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct ConsentRow {
    pub(crate) client_id: String,
    pub(crate) scope: String,
    pub(crate) granted_at: i64,
}

impl Store {
    pub(crate) async fn stored_client(&self, id: &str) -> Result<Option<StoredClient>, StoreError> {
        Ok(sqlx::query_as::<_, StoredClient>(
            "SELECT id, secret_hash, settings, created_at, updated_at FROM oidc_clients WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub(crate) async fn stored_clients(&self) -> Result<Vec<StoredClient>, StoreError> {
        Ok(sqlx::query_as::<_, StoredClient>(
            "SELECT id, secret_hash, settings, created_at, updated_at FROM oidc_clients ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Inserts a client; `Conflict` when its id is taken.
    pub(crate) async fn insert_client(&self, client: &StoredClient) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO oidc_clients (id, secret_hash, settings, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&client.id)
        .bind(&client.secret_hash)
        .bind(&client.settings)
        .bind(client.created_at)
        .bind(client.updated_at)
        .execute(&self.pool)
        .await;
        match done {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::Conflict("client id"))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A new secret for a confidential client; `false` when there is no such client.
    pub(crate) async fn set_client_secret(
        &self,
        id: &str,
        secret_hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE oidc_clients SET secret_hash = $2, updated_at = $3 \
             WHERE id = $1 AND secret_hash IS NOT NULL",
        )
        .bind(id)
        .bind(secret_hash)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected()
            > 0)
    }

    /// Removes a client and everything issued to it, in one transaction.
    pub(crate) async fn delete_client(&self, id: &str) -> Result<bool, StoreError> {
        self.revoking(self.delete_client_tx(id)).await
    }

    async fn delete_client_tx(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM oidc_clients WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        for sql in [
            "DELETE FROM oidc_grants WHERE client_id = $1",
            "DELETE FROM oidc_consents WHERE client_id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(deleted > 0)
    }

    /// The user's stable subject, made (`fresh`, random) the first time it is asked for
    /// (read first: the insert is a write, and nearly every call finds one).
    pub(crate) async fn subject_of(&self, user_id: i64, fresh: &str) -> Result<String, StoreError> {
        let read = || {
            sqlx::query_scalar::<_, String>("SELECT subject FROM oidc_subjects WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
        };
        if let Some(subject) = read().await? {
            return Ok(subject);
        }
        sqlx::query(
            "INSERT INTO oidc_subjects (user_id, subject) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(user_id)
        .bind(fresh)
        .execute(&self.pool)
        .await?;
        read()
            .await?
            .ok_or(StoreError::Db(sqlx::Error::RowNotFound))
    }

    /// The provider-wide value `name`, set to `fresh` by whichever instance asks first.
    pub(crate) async fn oidc_setting(&self, name: &str, fresh: &str) -> Result<String, StoreError> {
        sqlx::query(
            "INSERT INTO oidc_settings (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(name)
        .bind(fresh)
        .execute(&self.pool)
        .await?;
        Ok(
            sqlx::query_scalar::<_, String>("SELECT value FROM oidc_settings WHERE name = $1")
                .bind(name)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// The scopes the user let `client_id` have, if any.
    pub(crate) async fn consent(
        &self,
        user_id: i64,
        client_id: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar::<_, String>(
            "SELECT scope FROM oidc_consents WHERE user_id = $1 AND client_id = $2",
        )
        .bind(user_id)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Records consent to `scope` (what was consented before and is not asked again is kept
    /// by the caller, who passes the union).
    pub(crate) async fn save_consent(
        &self,
        user_id: i64,
        client_id: &str,
        scope: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oidc_consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, client_id) DO UPDATE SET scope = $3, granted_at = $4",
        )
        .bind(user_id)
        .bind(client_id)
        .bind(scope)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(crate) async fn consents_of(&self, user_id: i64) -> Result<Vec<ConsentRow>, StoreError> {
        Ok(sqlx::query_as::<_, ConsentRow>(
            "SELECT client_id, scope, granted_at FROM oidc_consents WHERE user_id = $1 ORDER BY client_id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Withdraws the user's consent to `client_id` and revokes every grant to it, in one
    /// transaction; `false` when there was neither.
    pub(crate) async fn revoke_consent(
        &self,
        user_id: i64,
        client_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.revoking(self.revoke_consent_tx(user_id, client_id, now))
            .await
    }

    async fn revoke_consent_tx(
        &self,
        user_id: i64,
        client_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let consents =
            sqlx::query("DELETE FROM oidc_consents WHERE user_id = $1 AND client_id = $2")
                .bind(user_id)
                .bind(client_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        let grants = sqlx::query(
            "UPDATE oidc_grants SET revoked_at = $3 \
             WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL",
        )
        .bind(user_id)
        .bind(client_id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(consents + grants > 0)
    }
}
