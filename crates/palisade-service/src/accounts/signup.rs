//! Sign-up by mailed link (`signup_by_link`): the answer to a sign-up is the same 202
//! whether or not its address has an account (ASVS V6.3.8). The sign-up is stored with its
//! password hashed and its username reserved, the same work either way; behind the answer,
//! a new address is sent the link that makes the account, and an address that has an
//! account gets a notice for its owner instead (three an hour at most). The username
//! cannot be hidden: a taken one is refused, for an account or a current sign-up alike.

use palisade::http::ClientInfo;
use palisade::secret::SecretString;

use super::{Accounts, keys};
use crate::error::AppError;
use crate::mail::Content;
use crate::sessions::{IssuedToken, token_hash};
use crate::store::{PendingSignup, UserRow};

/// How long a sign-up link works.
pub(crate) const SIGNUP_LINK_SECS: i64 = 24 * 3600;
/// Sign-up notices to one address's owner, per hour.
const SIGNUP_NOTICES_PER_HOUR: u32 = 3;
const HOUR: i64 = 3600;

/// A sign-up's checked fields and hashed password.
pub(super) struct CheckedSignup<'a> {
    pub(super) username: &'a str,
    pub(super) email: &'a str,
    pub(super) email_key: &'a str,
    pub(super) display_name: Option<&'a str>,
    pub(super) password_hash: &'a str,
}

/// The path of the page a sign-up link opens.
fn link_path(token: &IssuedToken) -> String {
    token.expose(|t| format!("/register/confirm?token={t}"))
}

impl Accounts {
    /// Stores the sign-up and, behind the answer, mails its address the link or its
    /// owner a notice.
    pub(super) async fn sign_up_by_link(
        &self,
        signup: CheckedSignup<'_>,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let token = IssuedToken::generate()?;
        let now = self.clock.now();
        let hash = token.expose(token_hash);
        self.store
            .insert_pending_signup(&PendingSignup {
                token_hash: &hash,
                username: signup.username,
                email: signup.email,
                email_key: signup.email_key,
                display_name: signup.display_name,
                password_hash: signup.password_hash,
                created_at: now,
                expires_at: now + SIGNUP_LINK_SECS,
            })
            .await?;
        self.audit(
            "signup_requested",
            None,
            Some(signup.username),
            Some(client),
            None,
        )
        .await;
        let (store, mail, site) = (
            self.store.clone(),
            self.mail.clone(),
            self.site_name.clone(),
        );
        let (username, email, email_key) = (
            signup.username.to_owned(),
            signup.email.to_owned(),
            signup.email_key.to_owned(),
        );
        let url = self.mail.link(&link_path(&token));
        self.background.spawn(async move {
            let sent = async {
                let letter = match store.user_id_by_email_key(&email_key).await? {
                    Some(owner_id) => {
                        let counter = store
                            .count_attempt(&keys::signup_notices(owner_id), now, HOUR)
                            .await?;
                        if counter.failures > SIGNUP_NOTICES_PER_HOUR {
                            return Ok::<_, AppError>(());
                        }
                        let Some(owner) = store.user_by_id(owner_id).await? else {
                            return Ok(());
                        };
                        let content = Content::signup_with_your_address(&site, &owner.username);
                        mail.letter(
                            Some(owner.id),
                            &owner.email,
                            &content,
                            crate::mail::NOTICE_SECS,
                        )?
                    }
                    None => {
                        let content =
                            Content::signup_link(&site, &username, url, SIGNUP_LINK_SECS / 3600);
                        mail.letter(None, &email, &content, SIGNUP_LINK_SECS)?
                    }
                };
                store.queue_mail(&letter).await?;
                mail.queued();
                Ok(())
            };
            if let Err(e) = sent.await {
                tracing::warn!(error = %e, "a sign-up's message was not queued");
            }
        });
        Ok(())
    }

    /// The username and address a sign-up link would make an account for (`None`: the
    /// link is not current). Changes nothing.
    pub(crate) async fn signup_pending(
        &self,
        token: &SecretString,
    ) -> Result<Option<(String, String)>, AppError> {
        let hash = token.expose(token_hash);
        Ok(self.store.pending_signup(&hash, self.clock.now()).await?)
    }

    /// Uses a sign-up link: makes the account, its address proven. Once.
    pub(crate) async fn complete_signup(
        &self,
        token: &SecretString,
        client: &ClientInfo,
    ) -> Result<UserRow, AppError> {
        let hash = token.expose(token_hash);
        let id = self
            .store
            .complete_signup(&hash, self.clock.now())
            .await?
            .ok_or(AppError::LinkExpired)?;
        let user = self
            .store
            .user_by_id(id)
            .await?
            .ok_or_else(|| AppError::internal("user vanished after insert"))?;
        metrics::counter!("palisade_registrations_total").increment(1);
        self.audit(
            "registered",
            Some(user.id),
            Some(&user.username),
            Some(client),
            Some("by mailed link"),
        )
        .await;
        Ok(user)
    }
}
