//! Passkeys and security keys (WebAuthn, through webauthn-rs): adding one, proving one
//! (a login's second step, a change to the factors), and signing in with one alone.
//!
//! Every ceremony's state is stored server-side under a binding — the session adding a
//! passkey, the pending login, the session re-proving a factor, or a browser's sign-in
//! cookie — and taken back by one `DELETE`: a challenge is answered once, and only by the
//! one it was issued to. webauthn-rs checks the origin, the RP ID, the signature and user
//! verification (always required); a signature counter that goes backwards is refused and
//! audited.

mod adding;

use std::sync::Arc;

use palisade::http::ClientInfo;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication,
    PublicKeyCredential, RequestChallengeResponse, Url, Webauthn, WebauthnBuilder, WebauthnError,
};

use super::SecondFactors;
use crate::accounts::Accounts;
use crate::error::AppError;
use crate::sessions::IssuedToken;
use crate::store::{PasskeyRow, UserRow};

/// How long a browser has to answer a challenge, seconds.
pub(crate) const CHALLENGE_SECS: i64 = 300;

/// Where a challenge is bound: who alone may answer it.
pub(crate) enum Binding<'a> {
    /// A session adding a passkey.
    Registration(&'a str),
    /// A session re-proving a factor for a change to the factors.
    Reauthentication(&'a str),
    /// A pending login's second step (the SHA-256 of its token).
    SecondStep(&'a str),
    /// A passkey sign-in (the SHA-256 of its cookie's token).
    SignIn(&'a str),
    /// A password reset asking for the account's second factor (its link's token hash).
    Reset(&'a str),
}

impl Binding<'_> {
    pub(crate) fn key(&self) -> String {
        match self {
            Binding::Registration(session) => format!("reg:{session}"),
            Binding::Reauthentication(session) => format!("reauth:{session}"),
            Binding::SecondStep(hash) => format!("step:{hash}"),
            Binding::SignIn(hash) => format!("login:{hash}"),
            Binding::Reset(hash) => format!("reset:{hash}"),
        }
    }
}

/// The relying party, when `public_origin` names a host (WebAuthn refuses IP addresses).
pub(crate) fn relying_party(
    origin: &str,
    site_name: &str,
) -> Result<Option<Arc<Webauthn>>, String> {
    let url = Url::parse(origin).map_err(|e| format!("public_origin {origin:?}: {e}"))?;
    let Some(url::Host::Domain(host)) = url.host() else {
        return Ok(None);
    };
    let host = host.to_owned();
    let webauthn = WebauthnBuilder::new(&host, &url)
        .and_then(|b| b.rp_name(site_name).build())
        .map_err(|e| format!("public_origin {origin:?}: not usable for passkeys: {e}"))?;
    Ok(Some(Arc::new(webauthn)))
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, AppError> {
    serde_json::to_string(value).map_err(AppError::internal)
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, AppError> {
    serde_json::from_str(text).map_err(AppError::internal)
}

/// A credential the browser sent that does not verify: for the user, a wrong proof.
fn refused(e: &WebauthnError) -> AppError {
    tracing::info!(error = %e, "a passkey assertion was refused");
    AppError::WrongCode { field: "passkey" }
}

impl SecondFactors {
    fn webauthn(&self) -> Result<&Webauthn, AppError> {
        self.webauthn
            .as_deref()
            .ok_or(AppError::PasskeysUnavailable)
    }

    /// The options for `navigator.credentials.get` that prove one of `user`'s passkeys,
    /// bound to `binding` (a second step, or a session re-proving a factor).
    pub(crate) async fn passkey_challenge(
        &self,
        user_id: i64,
        binding: Binding<'_>,
    ) -> Result<RequestChallengeResponse, AppError> {
        let webauthn = self.webauthn()?;
        let passkeys = self
            .store
            .passkeys_of(user_id)
            .await?
            .iter()
            .map(|row| parse::<Passkey>(&row.passkey))
            .collect::<Result<Vec<_>, _>>()?;
        if passkeys.is_empty() {
            return Err(AppError::NotFound);
        }
        let (options, state) = webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(AppError::internal)?;
        self.store
            .put_challenge(
                &binding.key(),
                Some(user_id),
                None,
                &json(&state)?,
                self.clock.now() + CHALLENGE_SECS,
            )
            .await?;
        Ok(options)
    }

    /// Checks a passkey assertion for `user` against the challenge bound to `binding`
    /// (taken, whatever the outcome), and records the use.
    pub(crate) async fn check_passkey(
        &self,
        accounts: &Accounts,
        user: &UserRow,
        credential: &PublicKeyCredential,
        binding: &str,
    ) -> Result<(), AppError> {
        let webauthn = self.webauthn()?;
        let now = self.clock.now();
        let Some(taken) = self.store.take_challenge(binding, now).await? else {
            return Err(AppError::WrongCode { field: "passkey" });
        };
        if taken.user_id != Some(user.id) {
            return Err(AppError::WrongCode { field: "passkey" });
        }
        let state: PasskeyAuthentication = parse(&taken.state)?;
        let result = webauthn.finish_passkey_authentication(credential, &state);
        self.record_use(accounts, user, result).await
    }

    /// After webauthn-rs's verdict: a counter that went backwards is audited; a good
    /// assertion moves the stored counter forward (or is refused if another use already
    /// did).
    async fn record_use(
        &self,
        accounts: &Accounts,
        user: &UserRow,
        result: Result<webauthn_rs::prelude::AuthenticationResult, WebauthnError>,
    ) -> Result<(), AppError> {
        let result = match result {
            Ok(r) => r,
            Err(e) => {
                if matches!(e, WebauthnError::CredentialPossibleCompromise) {
                    self.counter_regressed(accounts, user).await;
                }
                return Err(refused(&e));
            }
        };
        let rows = self.store.passkeys_of(user.id).await?;
        let Some((row, mut passkey)) = rows.into_iter().find_map(|row| {
            let passkey = parse::<Passkey>(&row.passkey).ok()?;
            (passkey.cred_id() == result.cred_id()).then_some((row, passkey))
        }) else {
            return Err(AppError::WrongCode { field: "passkey" });
        };
        passkey.update_credential(&result);
        let counter = i64::from(result.counter());
        if !self
            .store
            .use_passkey(&row.id, &json(&passkey)?, counter, self.clock.now())
            .await?
        {
            self.counter_regressed(accounts, user).await;
            return Err(AppError::WrongCode { field: "passkey" });
        }
        Ok(())
    }

    async fn counter_regressed(&self, accounts: &Accounts, user: &UserRow) {
        metrics::counter!("palisade_passkey_counter_regressions_total").increment(1);
        accounts
            .audit(
                "passkey_counter_regressed",
                Some(user.id),
                Some(&user.username),
                None,
                Some("the signature counter did not move forward: a cloned authenticator?"),
            )
            .await;
    }

    /// Starts a sign-in with a passkey alone: the options for `navigator.credentials.get`
    /// (user verification required), bound to `token`'s hash (the browser's cookie).
    pub(crate) async fn begin_passkey_sign_in(
        &self,
        token_hash: &str,
    ) -> Result<RequestChallengeResponse, AppError> {
        let webauthn = self.webauthn()?;
        let (mut options, state) = webauthn
            .start_discoverable_authentication()
            .map_err(AppError::internal)?;
        // A button press, not the autofill prompt webauthn-rs asks for by default.
        options.mediation = None;
        self.store
            .put_challenge(
                &Binding::SignIn(token_hash).key(),
                None,
                None,
                &json(&state)?,
                self.clock.now() + CHALLENGE_SECS,
            )
            .await?;
        Ok(options)
    }

    /// Finishes a sign-in with a passkey alone: the user its handle names, if the
    /// assertion verifies against the challenge bound to `token_hash`.
    pub(crate) async fn finish_passkey_sign_in(
        &self,
        accounts: &Accounts,
        token_hash: &str,
        credential: &PublicKeyCredential,
    ) -> Result<UserRow, AppError> {
        let webauthn = self.webauthn()?;
        let now = self.clock.now();
        let Some(taken) = self
            .store
            .take_challenge(&Binding::SignIn(token_hash).key(), now)
            .await?
        else {
            return Err(AppError::LoginExpired);
        };
        let state: DiscoverableAuthentication = parse(&taken.state)?;
        let (handle, credential_id) = webauthn
            .identify_discoverable_authentication(credential)
            .map_err(|e| refused(&e))?;
        let user_id = self
            .store
            .user_by_webauthn_handle(&handle.to_string())
            .await?
            .ok_or(AppError::BadCredentials)?;
        let user = self
            .store
            .user_by_id(user_id)
            .await?
            .filter(|u| u.disabled == 0)
            .ok_or(AppError::BadCredentials)?;
        let passkey = self
            .store
            .passkeys_of(user.id)
            .await?
            .iter()
            .map(|row: &PasskeyRow| parse::<Passkey>(&row.passkey))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .find(|p| AsRef::<[u8]>::as_ref(p.cred_id()) == credential_id)
            .ok_or(AppError::BadCredentials)?;
        let key = DiscoverableKey::from(&passkey);
        let result = webauthn.finish_discoverable_authentication_v2(credential, state, &key);
        self.record_use(accounts, &user, result)
            .await
            .map_err(|_| AppError::BadCredentials)?;
        Ok(user)
    }

    /// The options for a pending login's second step with a passkey.
    pub(crate) async fn second_step_challenge(
        &self,
        pending_hash: &str,
    ) -> Result<RequestChallengeResponse, AppError> {
        // Looked at, not counted: asking for a challenge is not a guess.
        let pending = self
            .store
            .pending_login(pending_hash, self.clock.now())
            .await?
            .ok_or(AppError::LoginExpired)?;
        self.passkey_challenge(pending.user_id, Binding::SecondStep(pending_hash))
            .await
    }

    /// Signs in with a passkey alone: the session starts (counting as having a second
    /// factor: the passkey verified its user) and the login is audited.
    pub(crate) async fn sign_in_with_passkey(
        &self,
        accounts: &Accounts,
        challenge_hash: &str,
        credential: &PublicKeyCredential,
        client: &ClientInfo,
        user_agent: &str,
    ) -> Result<(IssuedToken, UserRow), AppError> {
        let ck = palisade::throttle::client_key(client.addr);
        accounts
            .rate(&crate::accounts::keys::client_second_steps(&ck), client)
            .await?;
        let user = self
            .finish_passkey_sign_in(accounts, challenge_hash, credential)
            .await?;
        let (token, mut session, token_hash) =
            accounts.sessions.issue(user.id, client, user_agent)?;
        session.second_factor = 1;
        let account_key = crate::accounts::keys::account(user.id);
        let pair_key =
            crate::accounts::keys::pair(&account_key, &palisade::throttle::client_key(client.addr));
        let client_addr = client.addr.to_string();
        let record = crate::store::AuditRecord {
            at: self.clock.now(),
            event: "logged_in",
            user_id: Some(user.id),
            subject: Some(&user.username),
            client: Some(&client_addr),
            detail: Some("passkey"),
        };
        self.store
            .finish_login(
                &pair_key,
                &account_key,
                crate::store::LoginStart::Session(&session, &token_hash),
                &record,
            )
            .await?;
        crate::accounts::log_audit(&record);
        metrics::counter!("palisade_logins_total", "outcome" => "success").increment(1);
        Ok((token, user))
    }
}
