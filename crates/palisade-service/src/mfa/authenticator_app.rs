//! The authenticator app (TOTP, RFC 6238): adding one, with its key and QR code, and
//! confirming it by its first code.

use super::*;
use crate::accounts::{Accounts, keys};
use crate::error::AppError;
use crate::mail::Content;
use crate::sessions::{Authenticated, IssuedToken, hex, random_bytes};
use crate::store::{NewTotp, SealedTotp};
use palisade::http::ClientInfo;
use palisade::secret::{Keyring, SecretString, sealed_key_id};
use palisade::throttle::client_key;
use palisade::totp::{TotpError, TotpSecret};
use proof::malformed_code;

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

/// Opens a factor's sealed secret.
pub(super) fn open(
    keyring: &Keyring,
    user_id: i64,
    factor: &SealedTotp,
) -> Result<TotpSecret, AppError> {
    let bytes = keyring
        .open(&factor.secret_sealed, &aad(user_id, &factor.id))
        .map_err(|e| {
            AppError::internal(format_args!("TOTP secret of factor {}: {e}", factor.id))
        })?;
    bytes
        .expose(TotpSecret::from_bytes)
        .map_err(AppError::internal)
}

impl SecondFactors {
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
}
