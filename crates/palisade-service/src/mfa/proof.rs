//! The proof of a second factor — an authenticator app's code, a recovery code, a passkey —
//! and how it is checked: counted against the hourly allowances when it can be guessed
//! (six digits: per (account, address), then per account; given back when right or merely
//! used a moment earlier), never when it cannot (a recovery code, a passkey), so whoever
//! knows the password cannot lock the owner out; wrong ones audited, and the owner told.

use palisade::http::ClientInfo;
use palisade::password::Verdict;
use palisade::recovery_code::RecoveryCode;
use palisade::secret::{Keyring, SecretString};
use palisade::throttle::client_key;
use palisade::totp::TotpError;
use palisade::validate::{Password, Rule, ValidationError};

use super::{GUESSES_PER_HOUR, GUESSES_PER_HOUR_PER_ADDRESS, HOUR, SecondFactors, open, passkeys};
use crate::accounts::{Accounts, keys};
use crate::error::AppError;
use crate::mail::Content;
use crate::store::UserRow;

/// The proof of a second factor, as presented (each kept a secret from the moment it is
/// read).
pub(crate) enum Proof {
    /// A code from an authenticator app.
    Totp(SecretString),
    /// One of the recovery codes.
    RecoveryCode(SecretString),
    /// A passkey's answer to the challenge bound to this request's session or pending
    /// login.
    Passkey(Box<webauthn_rs::prelude::PublicKeyCredential>),
}

impl std::fmt::Debug for Proof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Proof::Totp(_) => "Proof::Totp([redacted])",
            Proof::RecoveryCode(_) => "Proof::RecoveryCode([redacted])",
            Proof::Passkey(_) => "Proof::Passkey([redacted])",
        })
    }
}

impl Proof {
    /// The one proof among a request's `code` and `recovery_code` fields, each checked
    /// for its shape (whether or not it will be needed); `None` when neither is given, an
    /// error naming both when both are.
    pub(crate) fn from_fields(
        code: Option<SecretString>,
        recovery_code: Option<SecretString>,
        passkey: Option<Box<webauthn_rs::prelude::PublicKeyCredential>>,
    ) -> Result<Option<Self>, AppError> {
        if let Some(passkey) = passkey {
            if code.is_some() || recovery_code.is_some() {
                return Err(ValidationError::new(
                    "passkey",
                    Rule::Format(
                        "must be the only proof sent: a passkey, a code or a recovery code, not several",
                    ),
                )
                .into());
            }
            return Ok(Some(Proof::Passkey(passkey)));
        }
        if code.as_ref().is_some_and(|c| !c.expose(is_app_code)) {
            return Err(malformed_code("code"));
        }
        if recovery_code
            .as_ref()
            .is_some_and(|c| c.expose(RecoveryCode::parse).is_err())
        {
            return Err(malformed_recovery_code());
        }
        match (code, recovery_code) {
            (Some(_), Some(_)) => Err(ValidationError::new(
                "recovery_code",
                Rule::Format("cannot be sent with a code: send one or the other"),
            )
            .into()),
            (Some(c), None) => Ok(Some(Proof::Totp(c))),
            (None, Some(r)) => Ok(Some(Proof::RecoveryCode(r))),
            (None, None) => Ok(None),
        }
    }

    fn field(&self) -> &'static str {
        match self {
            Proof::Totp(_) => "code",
            Proof::RecoveryCode(_) => "recovery_code",
            Proof::Passkey(_) => "passkey",
        }
    }
}

/// Which kind of factor a second step used (for the audit).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Used {
    Totp,
    RecoveryCode,
    Passkey,
}

impl SecondFactors {
    /// Behind the answer: mails the owner that someone entered their password and then a
    /// wrong code, at most once an hour (a counter in the database: every instance agrees).
    pub(super) fn tell_password_known(
        &self,
        accounts: &Accounts,
        user: &UserRow,
        client: &ClientInfo,
    ) {
        let (store, mail, site, clock) = (
            self.store.clone(),
            accounts.mail.clone(),
            accounts.site_name.clone(),
            self.clock.clone(),
        );
        let (user, address) = (user.clone(), client.addr.to_string());
        accounts.background.spawn(async move {
            let now = clock.now();
            let told = async {
                let counter = store
                    .count_attempt(&keys::wrong_code_notices(user.id), now, HOUR)
                    .await?;
                if counter.failures > 1 {
                    return Ok::<_, AppError>(());
                }
                let content = Content::wrong_second_factor(
                    &site,
                    &user.username,
                    &address,
                    &crate::web::utc(now),
                );
                let notice = mail.letter(
                    Some(user.id),
                    &user.email,
                    &content,
                    crate::mail::NOTICE_SECS,
                )?;
                store.queue_mail(&notice).await?;
                mail.queued();
                Ok(())
            };
            if let Err(e) = told.await {
                tracing::warn!(error = %e, "the wrong-code notice was not queued");
            }
        });
    }

    /// Checks a proof for `user`. A code that can be guessed (six digits) is counted
    /// first against the (account, address) and then the account's hourly allowances (so
    /// that checks in flight all count), and given back when right or merely used a moment
    /// earlier; a passkey or a recovery code is not counted (it cannot be guessed). Wrong
    /// ones are audited.
    pub(crate) async fn check_throttled(
        &self,
        accounts: &Accounts,
        keyring: &Keyring,
        user: &UserRow,
        proof: &Proof,
        binding: passkeys::Binding<'_>,
        client: &ClientInfo,
    ) -> Result<Used, AppError> {
        let counted = match proof {
            Proof::Totp(_) => vec![
                keys::second_step_pair(user.id, &client_key(client.addr)),
                keys::second_step_account(user.id),
            ],
            Proof::RecoveryCode(_) | Proof::Passkey(_) => Vec::new(),
        };
        for (key, max) in counted
            .iter()
            .zip([GUESSES_PER_HOUR_PER_ADDRESS, GUESSES_PER_HOUR])
        {
            accounts.limit(key, HOUR, max, user, client).await?;
        }
        let give_back = async {
            for key in &counted {
                self.store.uncount_attempt(key).await?;
            }
            Ok::<_, AppError>(())
        };
        match self.check(accounts, keyring, user, proof, binding).await {
            Ok(used) => {
                give_back.await?;
                if matches!(used, Used::RecoveryCode) {
                    let left = self.store.recovery_codes_left(user.id).await?;
                    let detail = format!("{left} left");
                    accounts
                        .audit(
                            "recovery_code_used",
                            Some(user.id),
                            Some(&user.username),
                            Some(client),
                            Some(&detail),
                        )
                        .await;
                }
                Ok(used)
            }
            Err(AppError::CodeAlreadyUsed) => {
                give_back.await?;
                Err(AppError::CodeAlreadyUsed)
            }
            Err(e) => {
                if matches!(e, AppError::WrongCode { .. }) {
                    metrics::counter!("palisade_second_factor_failures_total").increment(1);
                    accounts
                        .audit(
                            "second_factor_failed",
                            Some(user.id),
                            Some(&user.username),
                            Some(client),
                            Some(proof.field()),
                        )
                        .await;
                }
                Err(e)
            }
        }
    }

    pub(super) async fn check(
        &self,
        accounts: &Accounts,
        keyring: &Keyring,
        user: &UserRow,
        proof: &Proof,
        binding: passkeys::Binding<'_>,
    ) -> Result<Used, AppError> {
        let now = self.clock.now();
        match proof {
            Proof::Passkey(credential) => {
                self.check_passkey(accounts, user, credential, &binding.key())
                    .await?;
                Ok(Used::Passkey)
            }
            Proof::Totp(code) => {
                // Right, but its step already taken: by this user a moment ago (a double
                // submission), or by a request racing this one.
                let mut used_just_now = false;
                for factor in self.store.totp_factors(user.id, None).await? {
                    let secret = match open(keyring, user.id, &factor) {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::error!(error = %e, factor = %factor.id, "a TOTP secret does not open");
                            continue;
                        }
                    };
                    let last = factor.last_step.map(|s| s.max(0) as u64);
                    match code.expose(|c| self.totp.verify(&secret, c, now as u64, last)) {
                        Ok(step) => {
                            if self
                                .store
                                .accept_totp_step(&factor.id, step as i64, now)
                                .await?
                            {
                                return Ok(Used::Totp);
                            }
                            // Another request took this step first.
                            used_just_now = true;
                        }
                        Err(TotpError::Malformed(_)) => return Err(malformed_code("code")),
                        Err(TotpError::Replayed) => used_just_now = true,
                        Err(_) => {}
                    }
                }
                if used_just_now {
                    tracing::info!(user = user.id, "a TOTP code was presented again");
                    return Err(AppError::CodeAlreadyUsed);
                }
                Err(AppError::WrongCode { field: "code" })
            }
            Proof::RecoveryCode(typed) => {
                let code = typed
                    .expose(RecoveryCode::parse)
                    .map_err(|_| malformed_recovery_code())?;
                let selector = code.selector();
                let hash = self.store.recovery_code_hash(user.id, &selector).await?;
                let password = code.expose(|c| Password::parse(c.to_owned()))?;
                let verdict = match hash {
                    Some(hash) => Some(accounts.hashing.verify(password, hash).await?),
                    None => {
                        // The same work when no code has this selector.
                        accounts.hashing.dummy_verify(password).await;
                        None
                    }
                };
                if matches!(verdict, Some(Verdict::Valid(_)))
                    && self
                        .store
                        .use_recovery_code(user.id, &selector, now)
                        .await?
                {
                    return Ok(Used::RecoveryCode);
                }
                Err(AppError::WrongCode {
                    field: "recovery_code",
                })
            }
        }
    }
}

/// Whether `typed` has the shape of an authenticator app's code: six digits.
pub(crate) fn is_app_code(typed: &str) -> bool {
    let typed = typed.trim();
    typed.len() == 6 && typed.bytes().all(|b| b.is_ascii_digit())
}

pub(super) fn malformed_code(field: &'static str) -> AppError {
    AppError::Invalid(ValidationError::new(
        field,
        Rule::Format("must be the 6 digits your authenticator app shows"),
    ))
}

fn malformed_recovery_code() -> AppError {
    AppError::Invalid(ValidationError::new(
        "recovery_code",
        Rule::Format("must be the 16 letters and digits shown (dashes may be left out)"),
    ))
}
