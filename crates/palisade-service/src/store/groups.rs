//! The `user_groups` table.

use super::{Store, StoreError};

impl Store {
    /// Puts a user in a group; `false` if they were in it already.
    pub(crate) async fn add_group(&self, user_id: i64, name: &str) -> Result<bool, StoreError> {
        let added = sqlx::query(
            "INSERT INTO user_groups (user_id, name) VALUES ($1, $2) ON CONFLICT (user_id, name) DO NOTHING",
        )
        .bind(user_id)
        .bind(name)
        .execute(&self.pool);
        Ok(self.revoking(added).await?.rows_affected() > 0)
    }

    /// Takes a user out of a group; `false` if they were not in it.
    pub(crate) async fn remove_group(&self, user_id: i64, name: &str) -> Result<bool, StoreError> {
        let removed = sqlx::query("DELETE FROM user_groups WHERE user_id = $1 AND name = $2")
            .bind(user_id)
            .bind(name)
            .execute(&self.pool);
        Ok(self.revoking(removed).await?.rows_affected() > 0)
    }

    /// A user's groups, sorted, as this instance read them at most `FRESH_FOR` ago (the
    /// access rules ask on every proxied request): the admin CLI's changes, made by
    /// another process, reach every instance within that window.
    pub(crate) async fn remembered_groups_of(
        &self,
        user_id: i64,
    ) -> Result<super::Groups, StoreError> {
        if let Some(groups) = self.sessions.groups(user_id) {
            return Ok(groups);
        }
        let read = self.sessions.generation();
        let groups: super::Groups = self.groups_of(user_id).await?.into();
        self.sessions.put_groups(user_id, &groups, read);
        Ok(groups)
    }

    /// A user's groups, sorted.
    pub(crate) async fn groups_of(&self, user_id: i64) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar::<_, String>(
            "SELECT name FROM user_groups WHERE user_id = $1 ORDER BY name",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }
}
