//! Second factors: authenticator apps (TOTP, RFC 6238) and single-use recovery codes; the
//! second step of a login; adding and removing factors under re-authentication.
//!
//! What stops what:
//! - a TOTP code is accepted once per factor: the store moves `last_step` forward in one
//!   statement, and whoever did not move it lost (a replay, or a race);
//! - guessing is bounded by atomic counters: per pending login ([`GUESSES_PER_LOGIN`],
//!   then the password is needed again), per (account, address) per hour
//!   ([`GUESSES_PER_HOUR_PER_ADDRESS`]), per account per hour ([`GUESSES_PER_HOUR`],
//!   whatever the addresses), and per address (the client rate). The hourly limits count
//!   only what can be guessed — six-digit codes —: a passkey and a 79-bit recovery code
//!   are never refused by them, so whoever knows the password cannot lock the owner out;
//!   and one address runs into its own limit before the account's;
//! - a right code used a moment earlier (a double submission) is no guess: not counted,
//!   answered 409;
//! - the first wrong code after a right password tells the owner by mail (once an hour):
//!   someone knows their password;
//! - the pending login is not a session: its token is looked up in its own table, by the
//!   second step only.

pub(crate) mod api;
pub(crate) mod authenticator_app;
pub(crate) mod pages;
pub(crate) mod passkeys;
mod proof;
mod recovery_codes;
mod second_step;

use authenticator_app::open;
pub(crate) use recovery_codes::ShownCodes;
use recovery_codes::recovery_set;

pub(crate) use proof::{Proof, Used, is_app_code};

use palisade::http::ClientInfo;
use palisade::secret::{Keyring, SecretString};
use palisade::totp::Totp;
use palisade::validate::{Rule, ValidationError};

use crate::accounts::Accounts;
use crate::clock::Clock;
use crate::error::AppError;
use crate::mail::Content;
use crate::sessions::{Authenticated, IssuedToken};
use crate::store::{SecondFactorRow, Store};

/// Factors one user may hold.
pub(crate) const LIMIT: i64 = 10;

/// Wrong second-step codes one pending login may take; then the password is needed again.
pub(crate) const GUESSES_PER_LOGIN: i64 = 5;

/// Second-factor codes checked per account per hour, from every address together (a code
/// that was right is given back). With ±1 step, 3 of the 10⁶ six-digit codes are right at
/// any moment: at most 10 × 24 × 3 / 10⁶ ≈ 0.07% a day for someone who has the password.
pub(crate) const GUESSES_PER_HOUR: u32 = 10;

/// Second-factor codes checked per (account, client address) per hour: one address meets
/// this before the account's limit binds for everyone.
pub(crate) const GUESSES_PER_HOUR_PER_ADDRESS: u32 = 5;
const HOUR: i64 = 3600;

/// A TOTP factor added but not confirmed by its first code is forgotten after this.
pub(crate) const CONFIRM_WITHIN_SECS: i64 = 600;

pub(crate) struct SecondFactors {
    store: Store,
    clock: Clock,
    totp: Totp,
    /// The relying party for passkeys (`None`: `public_origin` is an address, not a host).
    webauthn: Option<std::sync::Arc<webauthn_rs::prelude::Webauthn>>,
}

/// The associated data a TOTP secret is sealed with: owner and factor.
pub(crate) fn aad(user_id: i64, factor_id: &str) -> Vec<u8> {
    format!("palisade-totp\0{user_id}\0{factor_id}").into_bytes()
}

fn checked_name(name: &str) -> Result<&str, AppError> {
    let name_ok = (1..=64).contains(&name.chars().count())
        && name.chars().all(|c| !c.is_control())
        && name.trim() == name;
    if name_ok {
        Ok(name)
    } else {
        Err(ValidationError::new(
            "name",
            Rule::Format(
                "must be 1 to 64 characters, with no control characters and no space at either end",
            ),
        )
        .into())
    }
}

impl SecondFactors {
    pub(crate) fn new(
        store: Store,
        clock: Clock,
        webauthn: Option<std::sync::Arc<webauthn_rs::prelude::Webauthn>>,
    ) -> Self {
        Self {
            store,
            clock,
            totp: Totp::default(),
            webauthn,
        }
    }

    /// Whether passkeys can be used here.
    pub(crate) fn passkeys_available(&self) -> bool {
        self.webauthn.is_some()
    }

    /// The user's factors (oldest first) and how many recovery codes they have left.
    pub(crate) async fn list(&self, user_id: i64) -> Result<(Vec<SecondFactorRow>, i64), AppError> {
        let factors = self.store.second_factors_of(user_id).await?;
        let left = self.store.recovery_codes_left(user_id).await?;
        Ok((factors, left))
    }

    /// For a change to the factors: the password when its last entry is stale, and a
    /// second factor when the user has one. Nothing is used up unless everything asked
    /// for is there; the session gets a new token only once all of it passed.
    pub(crate) async fn guard(
        &self,
        accounts: &Accounts,
        keyring: &Keyring,
        auth: &Authenticated,
        password: Option<SecretString>,
        proof: Option<Proof>,
        client: &ClientInfo,
    ) -> Result<Option<IssuedToken>, AppError> {
        let user = &auth.user;
        let has_factor = self.store.has_second_factor(user.id).await?;
        if has_factor && proof.is_none() {
            return Err(AppError::SecondFactorRequired);
        }
        let password = password.filter(|p| !p.is_empty());
        let stale = accounts.reauth_due(auth);
        match (stale, password) {
            (false, _) => {}
            (true, None) => return Err(AppError::ReauthRequired),
            (true, Some(p)) => accounts.check_password(auth, p, "password").await?,
        }
        if let (true, Some(proof)) = (has_factor, proof) {
            let binding = passkeys::Binding::Reauthentication(&auth.session.id);
            self.check_throttled(accounts, keyring, user, &proof, binding, client)
                .await?;
        }
        Ok(match stale {
            true => Some(accounts.sessions.reissue(&auth.session.id).await?),
            false => None,
        })
    }

    /// For what cannot be undone (deleting the account): the password, however recent the
    /// last entry, and a second factor when the user has one.
    pub(crate) async fn prove_owner(
        &self,
        accounts: &Accounts,
        keyring: &Keyring,
        auth: &Authenticated,
        password: Option<SecretString>,
        proof: Option<Proof>,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let Some(password) = password.filter(|p| !p.is_empty()) else {
            return Err(AppError::ReauthRequired);
        };
        let has_factor = self.store.has_second_factor(auth.user.id).await?;
        if has_factor && proof.is_none() {
            return Err(AppError::SecondFactorRequired);
        }
        accounts.check_password(auth, password, "password").await?;
        if let (true, Some(proof)) = (has_factor, proof) {
            let binding = passkeys::Binding::Reauthentication(&auth.session.id);
            self.check_throttled(accounts, keyring, &auth.user, &proof, binding, client)
                .await?;
        }
        Ok(())
    }

    /// Whether `user_id` may add a factor named `name`: fewer than [`LIMIT`] and no other
    /// of that name. Checked before any proof is spent, so a request that would fail
    /// leaves the user's codes as they were. (The insert checks again, in its transaction.)
    pub(crate) async fn room_for(&self, user_id: i64, name: &str) -> Result<(), AppError> {
        let factors = self.store.second_factors_of(user_id).await?;
        if factors.iter().any(|f| f.name == name) {
            return Err(AppError::Taken("name"));
        }
        if factors.len() as i64 >= LIMIT {
            return Err(AppError::Limit {
                field: "name",
                limit: LIMIT as u64,
            });
        }
        Ok(())
    }

    /// Removes one of the user's factors (with the last one, their recovery codes).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn remove(
        &self,
        accounts: &Accounts,
        keyring: &Keyring,
        auth: &Authenticated,
        id: &str,
        password: Option<SecretString>,
        proof: Option<Proof>,
        client: &ClientInfo,
    ) -> Result<Option<IssuedToken>, AppError> {
        // An unknown factor is found out before a proof is spent on it.
        let name = self
            .store
            .second_factors_of(auth.user.id)
            .await?
            .into_iter()
            .find(|f| f.id == id)
            .map(|f| f.name)
            .ok_or(AppError::NotFound)?;
        let reissued = self
            .guard(accounts, keyring, auth, password, proof, client)
            .await?;
        let notice = accounts.notice(
            &auth.user,
            &Content::second_factor_removed(&accounts.site_name, &auth.user.username, &name),
        )?;
        if !self
            .store
            .remove_second_factor(auth.user.id, id, &notice)
            .await?
        {
            return Err(AppError::NotFound);
        }
        accounts.mail.queued();
        accounts
            .audit_user("second_factor_removed", auth, client, None)
            .await;
        Ok(reissued)
    }
}
