//! Users: list, disable, enable, unlock (clear failed-login counters), end sessions.

use palisade::validate::Username;

use super::Admin;
use crate::accounts::keys;
use crate::store::UserRow;

/// One user, as `palisade user list` shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    /// The user's id.
    pub id: i64,
    /// The username.
    pub username: String,
    /// The email address.
    pub email: String,
    /// Whether the user may not sign in.
    pub disabled: bool,
}

impl Admin {
    /// Every user, by id.
    pub async fn users(&self) -> Result<Vec<UserSummary>, String> {
        let users = self.store.list_users().await.map_err(|e| e.to_string())?;
        Ok(users
            .into_iter()
            .map(|u| UserSummary {
                id: u.id,
                disabled: u.disabled != 0,
                username: u.username,
                email: u.email,
            })
            .collect())
    }

    async fn find(&self, name: &str) -> Result<UserRow, String> {
        let username = Username::parse(name).map_err(|e| e.to_string())?;
        self.store
            .user_by_login(username.as_str(), "")
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no user named {}", username.as_str()))
    }

    /// Disables a user and ends their sessions; returns how many ended.
    pub async fn disable(&self, name: &str) -> Result<u64, String> {
        let user = self.find(name).await?;
        let store = &self.store;
        store
            .set_disabled(user.id, true)
            .await
            .map_err(|e| e.to_string())?;
        let ended = store
            .end_all_sessions(user.id)
            .await
            .map_err(|e| e.to_string())?;
        self.audit("user_disabled", Some((user.id, &user.username)), "cli")
            .await?;
        Ok(ended)
    }

    /// Lets a disabled user sign in again.
    pub async fn enable(&self, name: &str) -> Result<(), String> {
        let user = self.find(name).await?;
        self.store
            .set_disabled(user.id, false)
            .await
            .map_err(|e| e.to_string())?;
        self.audit("user_enabled", Some((user.id, &user.username)), "cli")
            .await
    }

    /// Clears a user's failed-login counters; returns how many per-address ones there were.
    pub async fn unlock(&self, name: &str) -> Result<u64, String> {
        let user = self.find(name).await?;
        let account = keys::account(user.id);
        self.store
            .clear_counter(&account)
            .await
            .map_err(|e| e.to_string())?;
        let pairs = self
            .store
            .clear_counters_with_prefix(&keys::pair_prefix(&account))
            .await
            .map_err(|e| e.to_string())?;
        self.audit("user_unlocked", Some((user.id, &user.username)), "cli")
            .await?;
        Ok(pairs)
    }

    /// Ends every session of a user; returns how many.
    pub async fn end_sessions(&self, name: &str) -> Result<u64, String> {
        let user = self.find(name).await?;
        let ended = self
            .store
            .end_all_sessions(user.id)
            .await
            .map_err(|e| e.to_string())?;
        self.audit("sessions_ended", Some((user.id, &user.username)), "cli")
            .await?;
        Ok(ended)
    }

    /// Ends every session of every user: everyone signs in again.
    pub async fn end_every_session(&self) -> Result<u64, String> {
        let ended = self
            .store
            .end_every_session()
            .await
            .map_err(|e| e.to_string())?;
        self.audit("all_sessions_ended", None, "cli").await?;
        Ok(ended)
    }
}
