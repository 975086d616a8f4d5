//! Users: list, disable, enable, unlock (clear failed-login counters), end sessions,
//! second factors (list, reset).

use palisade::secret::SecretString;
use palisade::validate::Username;

use super::Admin;
use crate::accounts::keys;
use crate::store::UserRow;

/// A user's second factors, as `palisade user mfa list` shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondFactorList {
    /// Kind, name, added and last used (Unix seconds), oldest first.
    pub factors: Vec<(String, String, i64, Option<i64>)>,
    /// Recovery codes not used yet.
    pub recovery_codes_left: i64,
}

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

    pub(super) async fn find(&self, name: &str) -> Result<UserRow, String> {
        let username = Username::parse(name).map_err(|e| e.to_string())?;
        self.store
            .user_by_login(username.as_str(), "")
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no user named {}", username.as_str()))
    }

    /// Puts a user in a group (for the forward-auth rules); `false` if already in it.
    pub async fn group_add(&self, name: &str, group: &str) -> Result<bool, String> {
        let group = checked_group(group)?;
        let user = self.find(name).await?;
        let added = self
            .store
            .add_group(user.id, group)
            .await
            .map_err(|e| e.to_string())?;
        if added {
            let detail = format!("group {group}");
            self.audit("group_added", Some((user.id, &user.username)), &detail)
                .await?;
        }
        Ok(added)
    }

    /// Takes a user out of a group; `false` if they were not in it.
    pub async fn group_remove(&self, name: &str, group: &str) -> Result<bool, String> {
        let group = checked_group(group)?;
        let user = self.find(name).await?;
        let removed = self
            .store
            .remove_group(user.id, group)
            .await
            .map_err(|e| e.to_string())?;
        if removed {
            let detail = format!("group {group}");
            self.audit("group_removed", Some((user.id, &user.username)), &detail)
                .await?;
        }
        Ok(removed)
    }

    /// A user's groups, sorted.
    pub async fn groups(&self, name: &str) -> Result<Vec<String>, String> {
        let user = self.find(name).await?;
        self.store
            .groups_of(user.id)
            .await
            .map_err(|e| e.to_string())
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
            .end_all_sessions(user.id, crate::clock::system_now())
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
            .end_all_sessions(user.id, crate::clock::system_now())
            .await
            .map_err(|e| e.to_string())?;
        self.audit("sessions_ended", Some((user.id, &user.username)), "cli")
            .await?;
        Ok(ended)
    }

    /// A user's second factors (kind, name, added, last used) and unused recovery codes.
    pub async fn second_factors(&self, name: &str) -> Result<SecondFactorList, String> {
        let user = self.find(name).await?;
        let factors = self
            .store
            .second_factors_of(user.id)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|f| (f.kind, f.name, f.created_at, f.last_used_at))
            .collect();
        let recovery_codes_left = self
            .store
            .recovery_codes_left(user.id)
            .await
            .map_err(|e| e.to_string())?;
        self.audit(
            "second_factors_listed",
            Some((user.id, &user.username)),
            "cli",
        )
        .await?;
        Ok(SecondFactorList {
            factors,
            recovery_codes_left,
        })
    }

    /// Removes every second factor and recovery code of a user who lost them, and ends
    /// their sessions (whoever holds one may be the reason). Returns the factors removed.
    pub async fn reset_second_factors(&self, name: &str) -> Result<u64, String> {
        let user = self.find(name).await?;
        let mail = self.mailer()?;
        let notice = mail
            .letter(
                Some(user.id),
                &user.email,
                &crate::mail::Content::second_factors_reset(mail.site_name(), &user.username),
                crate::mail::NOTICE_SECS,
            )
            .map_err(|e| e.to_string())?;
        let removed = self
            .store
            .reset_second_factors(user.id, &notice)
            .await
            .map_err(|e| e.to_string())?;
        let detail = format!("cli: {removed} factors removed, sessions ended");
        self.audit(
            "second_factors_reset",
            Some((user.id, &user.username)),
            &detail,
        )
        .await?;
        Ok(removed)
    }

    /// A password reset link for a user, for support to hand over (audited; nothing is
    /// mailed; an older link stops working). It works once, for 15 minutes, and asks for
    /// the user's second factor when they have one.
    pub async fn reset_link(&self, name: &str) -> Result<SecretString, String> {
        let user = self.find(name).await?;
        let token = crate::sessions::IssuedToken::generate().map_err(|e| e.to_string())?;
        let now = crate::clock::system_now();
        self.store
            .put_password_reset(
                user.id,
                &token.expose(crate::sessions::token_hash),
                now,
                now + crate::recovery::RESET_SECS,
                None,
            )
            .await
            .map_err(|e| e.to_string())?;
        self.audit(
            "password_reset_link_issued",
            Some((user.id, &user.username)),
            "cli",
        )
        .await?;
        let path = crate::recovery::link_path(&token);
        Ok(SecretString::new(format!("{}{path}", self.config.origin())))
    }

    /// Mails a user a password reset link, as if they had asked (audited): support starts
    /// the reset without seeing the link. The running service's worker sends it.
    pub async fn mail_reset_link(&self, name: &str) -> Result<String, String> {
        let user = self.find(name).await?;
        if user.disabled != 0 {
            return Err(format!("{} is disabled: enable them first", user.username));
        }
        let mail = self.mailer()?;
        crate::recovery::queue_link(&mail, &self.store, &user, crate::clock::system_now())
            .await
            .map_err(|e| e.to_string())?;
        self.audit(
            "password_reset_link_mailed",
            Some((user.id, &user.username)),
            "cli",
        )
        .await?;
        Ok(user.email)
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

fn checked_group(group: &str) -> Result<&str, String> {
    if crate::authz::is_group_name(group) {
        Ok(group)
    } else {
        Err(format!(
            "group {:?}: use 1 to 64 lowercase letters, digits, '-', '_' or '.', starting with a letter or digit",
            palisade::validate::LogSafe::new(group).to_string()
        ))
    }
}
