//! Proving an address: the verification link mailed at registration (and on request),
//! and changing the address — asked with the password, confirmed by a link to the new
//! address, told to the old one, and nothing changed until the link is used.

use palisade::http::ClientInfo;
use palisade::secret::SecretString;
use palisade::validate::{Email, Rule, ValidationError};

use super::{Accounts, keys};
use crate::error::AppError;
use crate::mail::Content;
use crate::sessions::{Authenticated, IssuedToken, PresentedToken, token_hash};
use crate::store::{EmailConfirmed, EmailPurpose, EmailToken, NewMail, UserRow};

/// How long an address link works, seconds.
pub(crate) const EMAIL_LINK_SECS: i64 = 24 * 3600;
/// Address links one account may be sent per hour.
pub(crate) const EMAIL_LINKS_PER_HOUR: u32 = 5;
const HOUR: i64 = 3600;

/// The page an address link opens.
fn link_path(token: &IssuedToken) -> String {
    token.expose(|t| format!("/email/confirm?token={t}"))
}

/// What a confirmed link did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Confirmed {
    Verified,
    Changed,
}

impl Accounts {
    /// Mails `user` a link that proves their address, unless it is proved already
    /// (`false`). Counted against the account's hourly allowance.
    pub(crate) async fn send_verification(
        &self,
        user: &UserRow,
        client: &ClientInfo,
    ) -> Result<bool, AppError> {
        if user.email_verified_at.is_some() {
            return Ok(false);
        }
        self.count_email_link(user, client).await?;
        let (hash, mut mail) = self.verification_link(&user.username, &user.email)?;
        mail.user_id = Some(user.id);
        let now = self.clock.now();
        self.store
            .put_email_token(
                user.id,
                EmailPurpose::Verify,
                &user.email,
                &hash,
                now,
                now + EMAIL_LINK_SECS,
                &[&mail],
            )
            .await?;
        self.mail.queued();
        self.audit(
            "email_verification_sent",
            Some(user.id),
            Some(&user.username),
            Some(client),
            None,
        )
        .await;
        Ok(true)
    }

    /// Counts one address link against the account's hourly allowance; refuses past it.
    async fn count_email_link(&self, user: &UserRow, client: &ClientInfo) -> Result<(), AppError> {
        let key = keys::account_email_links(user.id);
        self.limit(&key, HOUR, EMAIL_LINKS_PER_HOUR, user, client)
            .await
    }

    /// A new link proving `email` for `username`: the hash to store, and its message (for
    /// the store to queue with it; its user is for the caller to set).
    pub(super) fn verification_link(
        &self,
        username: &str,
        email: &str,
    ) -> Result<(String, NewMail), AppError> {
        let token = IssuedToken::generate()?;
        let content = Content::verify_email(
            &self.site_name,
            username,
            self.mail.link(&link_path(&token)),
            EMAIL_LINK_SECS / 3600,
        );
        let mail = self.mail.letter(None, email, &content, EMAIL_LINK_SECS)?;
        Ok((token.expose(token_hash), mail))
    }

    /// Asks to move the account to `new_email`: the password is checked (whenever it was
    /// last entered), a link goes to the new address and a notice to the old one. The
    /// address changes only when the link is used.
    pub(crate) async fn request_email_change(
        &self,
        auth: &Authenticated,
        new_email: &str,
        password: SecretString,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let user = &auth.user;
        let new = Self::new_address(user, new_email)?;
        self.check_password(auth, password, "password").await?;
        self.count_email_link(user, client).await?;
        self.mail_address_change(user, &new).await?;
        self.audit_user("email_change_requested", auth, client, None)
            .await;
        Ok(())
    }

    /// `new_email`, checked as an account's next address: well-formed and not its current
    /// one.
    pub(crate) fn new_address(user: &UserRow, new_email: &str) -> Result<Email, AppError> {
        let new =
            Email::parse(new_email).map_err(|e| AppError::Invalid(e.for_field("new_email")))?;
        let current_key = Email::parse(&user.email).map(|e| e.comparison_key()).ok();
        if current_key.as_deref() == Some(new.comparison_key().as_str()) {
            return Err(ValidationError::new(
                "new_email",
                Rule::Format("must differ from the account's current address"),
            )
            .into());
        }
        Ok(new)
    }

    /// Mails the link that moves `user` to `new` (to the new address) and a notice (to the
    /// current one), replacing any earlier link; the address changes when it is used.
    pub(crate) async fn mail_address_change(
        &self,
        user: &UserRow,
        new: &Email,
    ) -> Result<(), AppError> {
        let token = IssuedToken::generate()?;
        let confirm = Content::confirm_new_email(
            &self.site_name,
            &user.username,
            self.mail.link(&link_path(&token)),
            EMAIL_LINK_SECS / 3600,
        );
        let confirm = self
            .mail
            .letter(Some(user.id), new.as_str(), &confirm, EMAIL_LINK_SECS)?;
        let notice = self.notice(
            user,
            &Content::email_change_requested(&self.site_name, &user.username, new.as_str()),
        )?;
        let now = self.clock.now();
        self.store
            .put_email_token(
                user.id,
                EmailPurpose::Change,
                new.as_str(),
                &token.expose(token_hash),
                now,
                now + EMAIL_LINK_SECS,
                &[&confirm, &notice],
            )
            .await?;
        self.mail.queued();
        Ok(())
    }

    /// The current link behind `token`, if any (for the page it opens; uses nothing up).
    pub(crate) async fn email_link(
        &self,
        token: &PresentedToken,
    ) -> Result<Option<EmailToken>, AppError> {
        let Some(hash) = token.hash() else {
            return Ok(None);
        };
        Ok(self.store.email_token(&hash, self.clock.now()).await?)
    }

    /// Uses the link behind `token`: proves the account's address, or moves the account
    /// to the new one (telling the old address). Once.
    pub(crate) async fn confirm_email(
        &self,
        token: &PresentedToken,
        client: &ClientInfo,
    ) -> Result<Confirmed, AppError> {
        let hash = token.hash().ok_or(AppError::LinkExpired)?;
        let link = self
            .store
            .email_token(&hash, self.clock.now())
            .await?
            .ok_or(AppError::LinkExpired)?;
        let user = self
            .store
            .user_by_id(link.user_id)
            .await?
            .ok_or(AppError::LinkExpired)?;
        let email_key = Email::parse(&link.email)
            .map_err(|_| AppError::LinkExpired)?
            .comparison_key();
        let notice = match link.purpose {
            EmailPurpose::Verify => None,
            EmailPurpose::Change => Some(self.notice(
                &user,
                &Content::email_changed(&self.site_name, &user.username, &link.email),
            )?),
        };
        let outcome = self
            .store
            .confirm_email_token(&hash, &link, &email_key, self.clock.now(), notice.as_ref())
            .await?;
        if outcome == EmailConfirmed::Stale {
            return Err(AppError::LinkExpired);
        }
        self.mail.queued();
        let (event, confirmed) = match link.purpose {
            EmailPurpose::Verify => ("email_verified", Confirmed::Verified),
            EmailPurpose::Change => ("email_changed", Confirmed::Changed),
        };
        self.audit(
            event,
            Some(user.id),
            Some(&user.username),
            Some(client),
            None,
        )
        .await;
        Ok(confirmed)
    }
}
