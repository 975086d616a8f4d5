//! The `secrets` table: sealed vault values.

use super::{Store, StoreError};

impl Store {
    pub(crate) async fn secret_names(&self, owner: i64) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query_as::<_, (String, i64)>(
            "SELECT name, updated_at FROM secrets WHERE owner_id = $1 ORDER BY name",
        )
        .bind(owner)
        .fetch_all(&self.pool)
        .await?)
    }

    pub(crate) async fn secret(
        &self,
        owner: i64,
        name: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar::<_, String>(
            "SELECT sealed FROM secrets WHERE owner_id = $1 AND name = $2",
        )
        .bind(owner)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub(crate) async fn put_secret(
        &self,
        owner: i64,
        name: &str,
        sealed: &str,
        key_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO secrets (owner_id, name, sealed, key_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) \
             ON CONFLICT (owner_id, name) DO UPDATE SET sealed = $3, key_id = $4, updated_at = $5",
        )
        .bind(owner)
        .bind(name)
        .bind(sealed)
        .bind(key_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(crate) async fn delete_secret(&self, owner: i64, name: &str) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("DELETE FROM secrets WHERE owner_id = $1 AND name = $2")
                .bind(owner)
                .bind(name)
                .execute(&self.pool)
                .await?
                .rows_affected()
                == 1,
        )
    }

    /// Values sealed per key id: vault secrets and TOTP secrets together (a key is needed
    /// while either kind still uses it).
    pub(crate) async fn secrets_per_key(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query_as::<_, (String, i64)>(
            "SELECT key_id, CAST(SUM(n) AS BIGINT) FROM ( \
               SELECT key_id, COUNT(*) AS n FROM secrets GROUP BY key_id \
               UNION ALL \
               SELECT key_id, COUNT(*) AS n FROM second_factors WHERE key_id IS NOT NULL GROUP BY key_id \
               UNION ALL \
               SELECT key_id, COUNT(*) AS n FROM outbox WHERE sealed IS NOT NULL AND key_id IS NOT NULL GROUP BY key_id \
               UNION ALL \
               SELECT substr(private_sealed, 5, 8) AS key_id, COUNT(*) AS n FROM oidc_signing_keys \
                 GROUP BY substr(private_sealed, 5, 8) \
             ) AS sealed GROUP BY key_id ORDER BY key_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The next batch of secrets not sealed under `current`, after `(owner, name)` in key order.
    pub(crate) async fn secrets_to_reseal(
        &self,
        current: &str,
        after: (i64, &str),
        limit: i64,
    ) -> Result<Vec<(i64, String, String)>, StoreError> {
        Ok(sqlx::query_as::<_, (i64, String, String)>(
            "SELECT owner_id, name, sealed FROM secrets WHERE key_id <> $1 AND (owner_id > $2 OR (owner_id = $2 AND name > $3)) \
             ORDER BY owner_id, name LIMIT $4",
        )
        .bind(current)
        .bind(after.0)
        .bind(after.1)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Replaces sealed values in one transaction; each only if unchanged since it was read.
    pub(crate) async fn reseal_batch(
        &self,
        rows: &[(i64, String, String, String)],
        key_id: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut done = 0;
        for (owner, name, old, new) in rows {
            done += sqlx::query("UPDATE secrets SET sealed = $1, key_id = $2, updated_at = $3 WHERE owner_id = $4 AND name = $5 AND sealed = $6")
                .bind(new)
                .bind(key_id)
                .bind(now)
                .bind(owner)
                .bind(name)
                .bind(old)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(done)
    }
}
