//! What an administrator does to one account beyond who it is and which groups it is in:
//! end one session, revoke a token, reset the second factors, mail a reset link, clear the
//! sign-in throttle, move the address, delete it. Each is audited; those that change how
//! the owner signs in are mailed to them.

use super::{Actor, Administration};
use crate::account_data::{AccountData, DeletedBy};
use crate::accounts::Accounts;
use crate::accounts::throttle::keys;
use crate::error::AppError;
use crate::mail::{Content, NOTICE_SECS};

impl Administration {
    /// Ends one session of `username`; `false` when they have none by that id.
    pub(crate) async fn end_session(
        &self,
        actor: &Actor<'_>,
        username: &str,
        session_id: &str,
    ) -> Result<bool, AppError> {
        let user = self.target(username).await?;
        let ended = self.store.end_session(user.id, session_id).await?;
        if ended {
            self.audit(actor, "admin_session_ended", &user, "ended one session")
                .await?;
        }
        Ok(ended)
    }

    /// Revokes `username`'s API token named `name`; `false` when they have none so named.
    pub(crate) async fn revoke_token(
        &self,
        actor: &Actor<'_>,
        username: &str,
        name: &str,
    ) -> Result<bool, AppError> {
        let user = self.target(username).await?;
        let Some(token) = self
            .store
            .api_tokens_of(user.id)
            .await?
            .into_iter()
            .find(|t| t.name == name)
        else {
            return Ok(false);
        };
        let revoked = self.store.revoke_api_token(user.id, &token.id).await?;
        if revoked {
            self.audit(
                actor,
                "admin_token_revoked",
                &user,
                &format!("revoked the API token {name:?}"),
            )
            .await?;
        }
        Ok(revoked)
    }

    /// Removes every second factor and recovery code of `username`, with their sessions
    /// and API tokens; the owner is mailed. Returns how many factors went.
    pub(crate) async fn reset_factors(
        &self,
        actor: &Actor<'_>,
        username: &str,
    ) -> Result<u64, AppError> {
        let user = self.target(username).await?;
        let notice = self.mail.letter(
            Some(user.id),
            &user.email,
            &Content::second_factors_reset(self.mail.site_name(), &user.username),
            NOTICE_SECS,
        )?;
        let removed = self.store.reset_second_factors(user.id, &notice).await?;
        self.mail.queued();
        self.audit(
            actor,
            "admin_second_factors_reset",
            &user,
            &format!(
                "removed {removed} second factors, their recovery codes, sessions and API tokens"
            ),
        )
        .await?;
        Ok(removed)
    }

    /// Mails `username` a password reset link, as if they had asked; nobody else sees it.
    pub(crate) async fn mail_reset_link(
        &self,
        actor: &Actor<'_>,
        username: &str,
    ) -> Result<(), AppError> {
        let user = self.target(username).await?;
        if user.disabled != 0 {
            return Err(AppError::AdminRule(
                "This account is disabled: enable it before sending it a reset link.",
            ));
        }
        crate::recovery::queue_link(&self.mail, &self.store, &user, self.clock.now()).await?;
        self.audit(
            actor,
            "admin_reset_link_mailed",
            &user,
            "mailed a password reset link",
        )
        .await
    }

    /// Clears the failed sign-in counters about `username` (the account's and each
    /// address's); returns how many per-address ones there were.
    pub(crate) async fn unlock(&self, actor: &Actor<'_>, username: &str) -> Result<u64, AppError> {
        let user = self.target(username).await?;
        let account = keys::account(user.id);
        self.store.clear_counter(&account).await?;
        let pairs = self
            .store
            .clear_counters_with_prefix(&keys::pair_prefix(&account))
            .await?;
        self.audit(
            actor,
            "admin_user_unlocked",
            &user,
            &format!("cleared the sign-in throttle ({pairs} addresses)"),
        )
        .await?;
        Ok(pairs)
    }

    /// Starts moving `username` to `new_email`: a link to the new address (the address
    /// changes when it is opened), a notice to the current one.
    pub(crate) async fn change_address(
        &self,
        actor: &Actor<'_>,
        accounts: &Accounts,
        username: &str,
        new_email: &str,
    ) -> Result<(), AppError> {
        let user = self.target(username).await?;
        let new = Accounts::new_address(&user, new_email)?;
        accounts.mail_address_change(&user, &new).await?;
        self.audit(
            actor,
            "admin_address_change_mailed",
            &user,
            "mailed a link to move the account to a new address",
        )
        .await
    }

    /// Deletes `username`'s account (see [`AccountData::delete`]); nobody deletes
    /// themselves here (the account page does that, with their own proofs). `false`: it
    /// was gone already.
    pub(crate) async fn delete_user(
        &self,
        actor: &Actor<'_>,
        account_data: &AccountData,
        username: &str,
    ) -> Result<bool, AppError> {
        let user = self.target(username).await?;
        if user.id == actor.user_id {
            return Err(AppError::AdminRule(
                "You cannot delete your own account here: use your account page.",
            ));
        }
        let by = DeletedBy::Admin {
            user_id: actor.user_id,
            username: actor.username,
        };
        account_data.delete(&user, by, actor.client).await
    }

    /// Whether a change to `username` asks `actor_id` for a fresh second factor: it does
    /// when they administer and are someone else (what one does to oneself needs no more
    /// than usual, and the rules refuse what would lock one out). `false` for a name nobody
    /// has.
    pub(crate) async fn guarded_target(
        &self,
        actor_id: i64,
        username: &str,
    ) -> Result<bool, AppError> {
        match self.target(username).await {
            Ok(user) if user.id == actor_id => Ok(false),
            Ok(user) => self.is_admin(user.id).await,
            Err(AppError::NotFound) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
