//! The `oidc_signing_keys` table: one series of keys per algorithm.

use sqlx::FromRow;

use super::{Store, StoreError};

/// A stored signing key (its private part sealed).
#[derive(Clone, FromRow)]
pub(crate) struct StoredSigningKey {
    pub(crate) kid: String,
    pub(crate) alg: String,
    pub(crate) generation: i64,
    pub(crate) private_sealed: String,
    pub(crate) public_jwk: String,
    pub(crate) created_at: i64,
    pub(crate) signs_from: i64,
    pub(crate) retire_at: Option<i64>,
}

impl std::fmt::Debug for StoredSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Every key still published at `now` (not retired), oldest first.
    pub(crate) async fn published_signing_keys(
        &self,
        now: i64,
    ) -> Result<Vec<StoredSigningKey>, StoreError> {
        Ok(sqlx::query_as::<_, StoredSigningKey>(
            "SELECT kid, alg, generation, private_sealed, public_jwk, created_at, signs_from, retire_at \
             FROM oidc_signing_keys WHERE retire_at IS NULL OR retire_at > $1 \
             ORDER BY alg, generation",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The newest key of `alg`: its generation and when it was made.
    pub(crate) async fn newest_signing_key(
        &self,
        alg: &str,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        Ok(sqlx::query_as::<_, (i64, i64)>(
            "SELECT generation, created_at FROM oidc_signing_keys WHERE alg = $1 \
             ORDER BY generation DESC LIMIT 1",
        )
        .bind(alg)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Inserts `key` as the next of its series and sets every older key of the series to
    /// leave the key set at `retire_older_at` (sooner only, never later), in one
    /// transaction. `false`: another instance inserted this generation first.
    pub(crate) async fn insert_signing_key(
        &self,
        key: &StoredSigningKey,
        retire_older_at: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO oidc_signing_keys \
             (kid, alg, generation, private_sealed, public_jwk, created_at, signs_from) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(key.generation)
        .bind(&key.private_sealed)
        .bind(&key.public_jwk)
        .bind(key.created_at)
        .bind(key.signs_from)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "UPDATE oidc_signing_keys SET retire_at = $3 \
             WHERE alg = $1 AND generation < $2 AND (retire_at IS NULL OR retire_at > $3)",
        )
        .bind(&key.alg)
        .bind(key.generation)
        .bind(retire_older_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every signing key not sealed under the keyring key `current`.
    pub(crate) async fn signing_keys_to_reseal(
        &self,
        current: &str,
    ) -> Result<Vec<StoredSigningKey>, StoreError> {
        Ok(sqlx::query_as::<_, StoredSigningKey>(
            "SELECT kid, alg, generation, private_sealed, public_jwk, created_at, signs_from, retire_at \
             FROM oidc_signing_keys WHERE substr(private_sealed, 5, 8) <> $1",
        )
        .bind(current)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Replaces a signing key's sealed private part, if it is still `old`.
    pub(crate) async fn reseal_signing_key(
        &self,
        kid: &str,
        old: &str,
        new: &str,
    ) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE oidc_signing_keys SET private_sealed = $3 WHERE kid = $1 AND private_sealed = $2",
        )
        .bind(kid)
        .bind(old)
        .bind(new)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }
}
