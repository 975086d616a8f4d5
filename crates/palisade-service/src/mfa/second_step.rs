//! The login's second step: a code, a recovery code or a passkey completes a pending
//! login (the password was right) into a session.

use super::*;
use crate::accounts::{Accounts, keys, log_audit};
use crate::error::AppError;
use crate::sessions::{IssuedToken, PresentedToken};
use crate::store::{AuditRecord, UserRow};
use palisade::http::ClientInfo;
use palisade::secret::Keyring;
use palisade::throttle::client_key;

impl SecondFactors {
    /// The second step of a login: the pending login behind `presented`, and a proof.
    /// Starts the session (its token returned) and ends the pending login, once.
    pub(crate) async fn second_step(
        &self,
        accounts: &Accounts,
        keyring: &Keyring,
        presented: Option<PresentedToken>,
        proof: Proof,
        client: &ClientInfo,
        user_agent: &str,
    ) -> Result<(IssuedToken, UserRow), AppError> {
        let pending_hash = presented
            .and_then(|p| p.hash())
            .ok_or(AppError::LoginExpired)?;
        let ck = client_key(client.addr);
        accounts
            .rate(&keys::client_second_steps(&ck), client)
            .await?;
        let now = self.clock.now();
        let pending = self
            .store
            .guess_pending_login(&pending_hash, now, GUESSES_PER_LOGIN)
            .await?
            .ok_or(AppError::LoginExpired)?;
        let user = self
            .store
            .user_by_id(pending.user_id)
            .await?
            .filter(|u| u.disabled == 0)
            .ok_or(AppError::LoginExpired)?;
        let binding = passkeys::Binding::SecondStep(&pending_hash);
        let used = match self
            .check_throttled(accounts, keyring, &user, &proof, binding, client)
            .await
        {
            Ok(used) => used,
            Err(AppError::CodeAlreadyUsed) => {
                self.store.ungess_pending_login(&pending_hash).await?;
                return Err(AppError::CodeAlreadyUsed);
            }
            Err(e @ AppError::WrongCode { .. }) => {
                // The password was right: the owner should know someone has it.
                self.tell_password_known(accounts, &user, client);
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let (token, mut session, token_hash) =
            accounts.sessions.issue(user.id, client, user_agent)?;
        session.second_factor = 1;
        let client_addr = client.addr.to_string();
        let record = AuditRecord {
            at: now,
            event: "logged_in",
            user_id: Some(user.id),
            subject: Some(&user.username),
            client: Some(&client_addr),
            detail: Some(match used {
                Used::Totp => "second factor: totp",
                Used::RecoveryCode => "second factor: recovery code",
                Used::Passkey => "second factor: passkey",
            }),
        };
        if !self
            .store
            .complete_pending_login(&pending_hash, &session, &token_hash, &record)
            .await?
        {
            // Another request completed it first.
            return Err(AppError::LoginExpired);
        }
        log_audit(&record);
        metrics::counter!("palisade_logins_total", "outcome" => "success").increment(1);
        Ok((token, user))
    }
}
