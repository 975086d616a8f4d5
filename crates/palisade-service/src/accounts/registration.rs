//! Registration: the username and address checked, the password checked against the
//! policy and hashed, the account and its address confirmation made in one transaction.

use super::*;
use crate::error::AppError;
use crate::store::{NewUser, UserRow, Verification};
use palisade::http::ClientInfo;
use palisade::password::user_words;
use palisade::secret::SecretString;
use palisade::throttle::client_key;
use palisade::validate::{DisplayName, Email, Password, Username};

/// The raw fields of a registration.
pub(crate) struct Registration {
    pub(crate) username: String,
    pub(crate) email: String,
    pub(crate) password: SecretString,
    pub(crate) display_name: Option<String>,
}

/// What a registration did.
pub(crate) enum Registered {
    /// Made the account (`signup_by_link` off).
    Account(Box<UserRow>),
    /// Stored the sign-up; its address gets the link (or its owner a notice).
    LinkSent,
}

impl Accounts {
    pub(crate) async fn register(
        &self,
        form: Registration,
        client: &ClientInfo,
    ) -> Result<Registered, AppError> {
        let username = Username::parse(&form.username)?;
        let email = Email::parse(&form.email)?;
        let display_name = match form.display_name.as_deref() {
            None | Some("") => None,
            Some(d) => Some(DisplayName::parse(d)?),
        };
        let password = Password::from_secret(form.password)?;
        let words = user_words(
            Some(&username),
            Some(&email),
            display_name.as_ref().map(DisplayName::as_str),
        );
        // Counted before the strength check: zxcvbn and hashing are the costly parts, and
        // a client past its rate gets neither.
        self.rate(
            &keys::client_registrations(&client_key(client.addr)),
            client,
        )
        .await?;
        self.policy
            .check(&password, &words)
            .map_err(AppError::WeakPassword)?;
        let hash = self.timed_hash(password).await?;
        if self.signup_by_link {
            let signup = signup::CheckedSignup {
                username: username.as_str(),
                email: email.as_str(),
                email_key: &email.comparison_key(),
                display_name: display_name.as_ref().map(DisplayName::as_str),
                password_hash: &hash,
            };
            self.sign_up_by_link(signup, client).await?;
            return Ok(Registered::LinkSent);
        }
        // The account and the link proving its address are stored together.
        let (link_hash, mail) = self.verification_link(username.as_str(), email.as_str())?;
        let now = self.clock.now();
        let id = self
            .store
            .insert_user(
                NewUser {
                    username: username.as_str(),
                    email: email.as_str(),
                    email_key: &email.comparison_key(),
                    display_name: display_name.as_ref().map(DisplayName::as_str),
                    password_hash: &hash,
                    legacy_cost: None,
                },
                now,
                Some(Verification {
                    token_hash: &link_hash,
                    expires_at: now + email::EMAIL_LINK_SECS,
                    mail,
                }),
            )
            .await?;
        self.mail.queued();
        metrics::counter!("palisade_registrations_total").increment(1);
        self.audit(
            "registered",
            Some(id),
            Some(username.as_str()),
            Some(client),
            None,
        )
        .await;
        let user = self
            .store
            .user_by_id(id)
            .await?
            .ok_or_else(|| AppError::internal("user vanished after insert"))?;
        Ok(Registered::Account(Box::new(user)))
    }
}
