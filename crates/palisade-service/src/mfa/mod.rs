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
pub(crate) mod pages;
pub(crate) mod passkeys;
mod proof;

use proof::malformed_code;
pub(crate) use proof::{Proof, Used, is_app_code};

use palisade::http::ClientInfo;
use palisade::recovery_code::{self, RecoveryCode};
use palisade::secret::{Keyring, SecretString, sealed_key_id};
use palisade::throttle::client_key;
use palisade::totp::{Totp, TotpError, TotpSecret};
use palisade::validate::{Password, Rule, ValidationError};

use crate::accounts::{Accounts, keys, log_audit};
use crate::clock::Clock;
use crate::error::AppError;
use crate::mail::Content;
use crate::sessions::{Authenticated, IssuedToken, PresentedToken, hex, random_bytes};
use crate::store::{
    AuditRecord, NewTotp, SealedTotp, SecondFactorRow, Store, StoredRecoveryCode, UserRow,
};

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

/// A TOTP factor being added: what the user's app needs (each holds the secret).
pub(crate) struct TotpEnrolment {
    pub(crate) id: String,
    pub(crate) secret: SecretString,
    pub(crate) uri: SecretString,
    pub(crate) qr_svg: SecretString,
    /// Set when the session had to be re-authenticated for this (its new token).
    pub(crate) reissued: Option<IssuedToken>,
    /// The name of an earlier authenticator app that was started and never confirmed,
    /// which this one replaces.
    pub(crate) replaced: Option<String>,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpEnrolment")
            .field("id", &self.id)
            .field("secret", &self.secret)
            .field("uri", &self.uri)
            .field("qr_svg", &self.qr_svg)
            .finish_non_exhaustive()
    }
}

/// Recovery codes as shown, once.
pub(crate) type ShownCodes = Vec<SecretString>;

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
    async fn guard(
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

    /// Starts adding an authenticator app named `name`: a new secret, sealed and stored
    /// unconfirmed; it counts once [`confirm_totp`](Self::confirm_totp) saw its first code.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn begin_totp(
        &self,
        accounts: &Accounts,
        keyring: &Keyring,
        auth: &Authenticated,
        name: &str,
        password: Option<SecretString>,
        proof: Option<Proof>,
        client: &ClientInfo,
    ) -> Result<TotpEnrolment, AppError> {
        let name = checked_name(name)?;
        // What can fail is checked before a proof is spent.
        self.room_for(auth.user.id, name).await?;
        let reissued = self
            .guard(accounts, keyring, auth, password, proof, client)
            .await?;
        let user = &auth.user;
        let replaced = self.store.unconfirmed_totp_name(user.id).await?;
        let secret = TotpSecret::generate().map_err(AppError::internal)?;
        let id = hex(&random_bytes::<16>()?);
        let sealed = secret
            .expose(|s| keyring.seal(s, &aad(user.id, &id)))
            .map_err(|e| AppError::internal(format_args!("sealing: {e}")))?;
        let key_id = sealed_key_id(&sealed).unwrap_or_default().to_owned();
        let new = NewTotp {
            id: &id,
            user_id: user.id,
            name,
            secret_sealed: &sealed,
            key_id: &key_id,
            created_at: self.clock.now(),
        };
        if !self.store.insert_totp(new, LIMIT).await? {
            return Err(AppError::Limit {
                field: "name",
                limit: LIMIT as u64,
            });
        }
        let issuer = &accounts.site_name;
        let qr_svg = self
            .totp
            .qr_svg(&secret, issuer, &user.username)
            .map_err(AppError::internal)?;
        accounts
            .audit_user("second_factor_started", auth, client, Some("totp"))
            .await;
        Ok(TotpEnrolment {
            id,
            secret: secret.to_base32(),
            uri: self.totp.uri(&secret, issuer, &user.username),
            qr_svg,
            reissued,
            replaced,
        })
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

    /// Confirms the authenticator app `id` with its first code. When it is the user's
    /// first factor, returns their recovery codes (shown this once).
    pub(crate) async fn confirm_totp(
        &self,
        accounts: &Accounts,
        keyring: &Keyring,
        auth: &Authenticated,
        id: &str,
        code: SecretString,
        client: &ClientInfo,
    ) -> Result<Option<ShownCodes>, AppError> {
        let user = &auth.user;
        if !code.expose(is_app_code) {
            return Err(malformed_code("code"));
        }
        let ck = client_key(client.addr);
        accounts
            .rate(&keys::client_second_steps(&ck), client)
            .await?;
        let now = self.clock.now();
        let factor = self
            .store
            .totp_factors(user.id, Some((id, now - CONFIRM_WITHIN_SECS)))
            .await?
            .into_iter()
            .next()
            .ok_or(AppError::NotFound)?;
        let secret = open(keyring, user.id, &factor)?;
        let step = match code.expose(|c| self.totp.verify(&secret, c, now as u64, None)) {
            Ok(step) => step,
            Err(TotpError::Malformed(_)) => return Err(malformed_code("code")),
            Err(_) => return Err(AppError::WrongCode { field: "code" }),
        };
        let first = !self.store.has_second_factor(user.id).await?;
        let (shown, stored) = if first {
            recovery_set(accounts).await?
        } else {
            (Vec::new(), Vec::new())
        };
        let notice = accounts.notice(
            user,
            &Content::second_factor_added(
                &accounts.site_name,
                &user.username,
                "an authenticator app",
            ),
        )?;
        let Some(codes_stored) = self
            .store
            .confirm_totp(user.id, id, step as i64, now, &stored, &notice)
            .await?
        else {
            return Err(AppError::NotFound);
        };
        accounts.mail.queued();
        // This session's user just proved the factor.
        self.store.mark_second_factor(&auth.session.id).await?;
        accounts
            .audit_user("second_factor_added", auth, client, Some("totp"))
            .await;
        Ok(codes_stored.then_some(shown))
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

    /// A new set of recovery codes, replacing the old ones.
    pub(crate) async fn regenerate_codes(
        &self,
        accounts: &Accounts,
        keyring: &Keyring,
        auth: &Authenticated,
        password: Option<SecretString>,
        proof: Option<Proof>,
        client: &ClientInfo,
    ) -> Result<(ShownCodes, Option<IssuedToken>), AppError> {
        let reissued = self
            .guard(accounts, keyring, auth, password, proof, client)
            .await?;
        let (shown, stored) = recovery_set(accounts).await?;
        if !self
            .store
            .replace_recovery_codes(auth.user.id, &stored)
            .await?
        {
            return Err(AppError::NotFound);
        }
        accounts
            .audit_user("recovery_codes_replaced", auth, client, None)
            .await;
        Ok((shown, reissued))
    }

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

/// Opens a factor's sealed secret.
fn open(keyring: &Keyring, user_id: i64, factor: &SealedTotp) -> Result<TotpSecret, AppError> {
    let bytes = keyring
        .open(&factor.secret_sealed, &aad(user_id, &factor.id))
        .map_err(|e| {
            AppError::internal(format_args!("TOTP secret of factor {}: {e}", factor.id))
        })?;
    bytes
        .expose(TotpSecret::from_bytes)
        .map_err(AppError::internal)
}

/// A new set of recovery codes: as shown, and as stored (selector and password hash).
async fn recovery_set(
    accounts: &Accounts,
) -> Result<(ShownCodes, Vec<StoredRecoveryCode>), AppError> {
    let set = recovery_code::generate_set().map_err(AppError::internal)?;
    let hashes = futures_util::future::try_join_all(set.iter().map(|code| async {
        let password = code.expose(|c| Password::parse(c.to_owned()))?;
        accounts
            .hashing
            .hash(password)
            .await
            .map_err(AppError::from)
    }))
    .await?;
    let stored = set
        .iter()
        .zip(hashes)
        .map(|(code, code_hash)| StoredRecoveryCode {
            selector: code.selector(),
            code_hash,
        })
        .collect();
    Ok((set.iter().map(RecoveryCode::display).collect(), stored))
}
