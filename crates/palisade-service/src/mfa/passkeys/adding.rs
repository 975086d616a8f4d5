//! Adding a passkey: the creation challenge, bound to the session that asked, and its
//! answer checked and stored (the first factor also gives recovery codes).

use super::*;
use crate::accounts::Accounts;
use crate::error::AppError;
use crate::mfa::{Proof, SecondFactors, ShownCodes, checked_name, recovery_set};
use crate::sessions::{Authenticated, IssuedToken, hex, random_bytes};
use crate::store::NewPasskey;
use palisade::http::ClientInfo;
use palisade::secret::SecretString;
use webauthn_rs::prelude::{Passkey, PasskeyRegistration, RegisterPublicKeyCredential, Uuid};

impl SecondFactors {
    /// Starts adding a passkey named `name` (asking for the proofs a change needs): the
    /// options for `navigator.credentials.create`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn begin_passkey(
        &self,
        accounts: &Accounts,
        keyring: &palisade::secret::Keyring,
        auth: &Authenticated,
        name: &str,
        password: Option<SecretString>,
        proof: Option<Proof>,
        client: &ClientInfo,
    ) -> Result<(serde_json::Value, Option<IssuedToken>), AppError> {
        let webauthn = self.webauthn()?;
        let name = checked_name(name)?;
        // What can fail is checked before a proof is spent.
        self.room_for(auth.user.id, name).await?;
        let reissued = self
            .guard(accounts, keyring, auth, password, proof, client)
            .await?;
        let user = &auth.user;
        let fresh = Uuid::new_v4().to_string();
        let handle = self.store.webauthn_handle(user.id, &fresh).await?;
        let handle = Uuid::parse_str(&handle).map_err(AppError::internal)?;
        let existing = self
            .store
            .passkeys_of(user.id)
            .await?
            .iter()
            .map(|row| parse::<Passkey>(&row.passkey).map(|p| p.cred_id().clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let display = user.display_name.as_deref().unwrap_or(&user.username);
        let (options, state) = webauthn
            .start_passkey_registration(handle, &user.username, display, Some(existing))
            .map_err(AppError::internal)?;
        // Asked to keep the credential on the authenticator where it can (discoverable),
        // so that it can sign in alone later; not required, so any security key still
        // serves as a second factor. (webauthn-rs does not check this at the finish.)
        let mut options = serde_json::to_value(&options).map_err(AppError::internal)?;
        options["publicKey"]["authenticatorSelection"]["residentKey"] = "preferred".into();
        let binding = Binding::Registration(&auth.session.id).key();
        self.store
            .put_challenge(
                &binding,
                Some(user.id),
                Some(name),
                &json(&state)?,
                self.clock.now() + CHALLENGE_SECS,
            )
            .await?;
        Ok((options, reissued))
    }

    /// Finishes adding a passkey with the browser's answer. When it is the user's first
    /// factor, returns their recovery codes (shown this once).
    pub(crate) async fn finish_passkey(
        &self,
        accounts: &Accounts,
        auth: &Authenticated,
        credential: &RegisterPublicKeyCredential,
        client: &ClientInfo,
    ) -> Result<Option<ShownCodes>, AppError> {
        let webauthn = self.webauthn()?;
        let now = self.clock.now();
        let binding = Binding::Registration(&auth.session.id).key();
        let taken = self
            .store
            .take_challenge(&binding, now)
            .await?
            .ok_or(AppError::NotFound)?;
        let state: PasskeyRegistration = parse(&taken.state)?;
        let passkey = webauthn
            .finish_passkey_registration(credential, &state)
            .map_err(|e| refused(&e))?;
        let user = &auth.user;
        let first = !self.store.has_second_factor(user.id).await?;
        let id = hex(&random_bytes::<16>()?);
        let credential_id = hex(AsRef::<[u8]>::as_ref(passkey.cred_id()));
        let new = NewPasskey {
            id: &id,
            user_id: user.id,
            name: taken.name.as_deref().unwrap_or("passkey"),
            credential_id: &credential_id,
            passkey: &json(&passkey)?,
            now,
        };
        let notice = accounts.notice(
            user,
            &crate::mail::Content::second_factor_added(
                &accounts.site_name,
                &user.username,
                &format!("the passkey \"{}\"", new.name),
            ),
        )?;
        if !self
            .store
            .insert_passkey(new, crate::mfa::LIMIT, &notice)
            .await?
        {
            return Err(AppError::Limit {
                field: "name",
                limit: crate::mfa::LIMIT as u64,
            });
        }
        let codes = if first {
            let (shown, stored) = recovery_set(accounts).await?;
            self.store
                .replace_recovery_codes(user.id, &stored)
                .await?
                .then_some(shown)
        } else {
            None
        };
        accounts.mail.queued();
        self.store.mark_second_factor(&auth.session.id).await?;
        accounts
            .audit_user("second_factor_added", auth, client, Some("passkey"))
            .await;
        Ok(codes)
    }
}
