//! Registration, login, password changes and re-authentication: the account logic behind
//! both the JSON API and the pages.

pub(crate) mod api;
pub(crate) mod browsers;
mod email;
pub(crate) mod email_api;
pub(crate) mod email_pages;
mod login;
pub(crate) mod pages;
mod registration;
mod signup;
pub(crate) mod signup_web;
pub(crate) mod throttle;

pub(crate) use login::SignIn;
pub(crate) use registration::{Registered, Registration};
pub(crate) use throttle::keys;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use palisade::http::ClientInfo;
use palisade::password::{HashPool, PasswordPolicy, Verdict, user_words};
use palisade::secret::SecretString;
use palisade::throttle::ThrottlePolicy;
use palisade::validate::{Email, LogSafe, Password, Username};

use crate::clock::Clock;
use crate::error::AppError;
use crate::mail::Content;
use crate::sessions::{Authenticated, IssuedToken, Sessions};
use crate::store::{AuditRecord, NewMail, Store, UserRow};

pub(crate) struct Accounts {
    pub(crate) store: Store,
    pub(crate) hashing: HashPool,
    pub(crate) policy: PasswordPolicy,
    pub(crate) throttle: ThrottlePolicy,
    pub(crate) sessions: Sessions,
    pub(crate) site_name: String,
    /// Queues the messages a change sends (the outbox), sealed.
    pub(crate) mail: Arc<crate::mail::Mailer>,
    /// Work done after the answer (a reset request's lookup and message, a sign-in's
    /// browser check).
    pub(crate) background: crate::background::Background,
    /// `notify_new_sign_in`.
    pub(crate) notify_new_sign_in: bool,
    /// `signup_by_link` (as the configuration resolves it).
    pub(crate) signup_by_link: bool,
    pub(crate) clock: Clock,
    /// Password hashes and verifications actually computed (the attack tests read it).
    pub(crate) hashes_done: Arc<AtomicU64>,
}

impl Accounts {
    /// Audit trail: a row in the database and a structured log line. Untrusted text only
    /// through `LogSafe`; never a secret.
    pub(crate) async fn audit(
        &self,
        event: &str,
        user_id: Option<i64>,
        subject: Option<&str>,
        client: Option<&ClientInfo>,
        detail: Option<&str>,
    ) {
        let client = client.map(|c| c.addr.to_string());
        let record = AuditRecord {
            at: self.clock.now(),
            event,
            user_id,
            subject,
            client: client.as_deref(),
            detail,
        };
        log_audit(&record);
        if let Err(e) = self.store.audit(&record).await {
            tracing::error!(error = %e, "could not store audit event");
        }
    }

    /// A security notice to `user`'s address, for the store to queue with its change.
    pub(crate) fn notice(&self, user: &UserRow, content: &Content) -> Result<NewMail, AppError> {
        self.mail.letter(
            Some(user.id),
            &user.email,
            content,
            crate::mail::NOTICE_SECS,
        )
    }

    /// Audit trail for what a signed-in user did.
    pub(crate) async fn audit_user(
        &self,
        event: &str,
        auth: &Authenticated,
        client: &ClientInfo,
        detail: Option<&str>,
    ) {
        let user = &auth.user;
        self.audit(
            event,
            Some(user.id),
            Some(&user.username),
            Some(client),
            detail,
        )
        .await;
    }

    pub(crate) async fn timed_hash(&self, password: Password) -> Result<String, AppError> {
        let started = Instant::now();
        let hash = self.hashing.hash(password).await?;
        self.hashed(started);
        Ok(hash)
    }

    fn hashed(&self, started: Instant) {
        self.hashes_done.fetch_add(1, Ordering::Relaxed);
        metrics::histogram!("palisade_password_hash_seconds")
            .record(started.elapsed().as_secs_f64());
    }

    pub(crate) async fn logout(
        &self,
        auth: &Authenticated,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        self.sessions.end(auth.user.id, &auth.session.id).await?;
        self.audit_user("logged_out", auth, client, None).await;
        Ok(())
    }

    /// Whether the password was last entered longer ago than the re-authentication window.
    pub(crate) fn reauth_due(&self, auth: &Authenticated) -> bool {
        auth.session.last_auth_at + self.sessions.policy().reauth_secs <= self.clock.now()
    }

    /// Checks the account's password for a sensitive action.
    pub(crate) async fn check_password(
        &self,
        auth: &Authenticated,
        password: SecretString,
        field: &'static str,
    ) -> Result<(), AppError> {
        let password =
            Password::from_secret(password).map_err(|e| AppError::Invalid(e.for_field(field)))?;
        let hash = self
            .store
            .password_hash(auth.user.id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let started = Instant::now();
        let verdict = self
            .hashing
            .verify(password, hash.as_str().to_owned())
            .await?;
        self.hashed(started);
        match verdict {
            Verdict::Valid(_) => Ok(()),
            Verdict::Invalid => Err(AppError::WrongPassword { field }),
        }
    }

    /// Changes the password: the current one is required; every other session ends and
    /// every API token is revoked; this session gets a new token.
    pub(crate) async fn change_password(
        &self,
        auth: &Authenticated,
        current: SecretString,
        new: SecretString,
        client: &ClientInfo,
    ) -> Result<IssuedToken, AppError> {
        let new = Password::from_secret(new)
            .map_err(|e| AppError::Invalid(e.for_field("new_password")))?;
        let username = Username::parse(&auth.user.username).ok();
        let email = Email::parse(&auth.user.email).ok();
        let words = user_words(
            username.as_ref(),
            email.as_ref(),
            auth.user.display_name.as_deref(),
        );
        self.policy
            .check(&new, &words)
            .map_err(AppError::WeakPassword)?;
        self.check_password(auth, current, "current_password")
            .await?;
        let hash = self.timed_hash(new).await?;
        let (ended, revoked) = self
            .store
            .change_password(
                auth.user.id,
                &hash,
                &auth.session.id,
                self.clock.now(),
                &self.notice(
                    &auth.user,
                    &Content::password_changed(&self.site_name, &auth.user.username, false),
                )?,
            )
            .await?;
        self.mail.queued();
        let token = self.sessions.reissue(&auth.session.id).await?;
        self.audit_user(
            "password_changed",
            auth,
            client,
            Some(&format!(
                "ended {ended} other sessions, revoked {revoked} API tokens"
            )),
        )
        .await;
        Ok(token)
    }

    /// Ends one of the user's sessions. Ending another session needs a recent password
    /// entry; when it is stale, `password` must be given, and a new token is issued.
    /// For sensitive actions: passes when the password was entered within the
    /// re-authentication window; otherwise `password` must be given and right, and the
    /// session gets a new token (returned).
    pub(crate) async fn require_recent_password(
        &self,
        auth: &Authenticated,
        password: Option<SecretString>,
    ) -> Result<Option<IssuedToken>, AppError> {
        if !self.reauth_due(auth) {
            return Ok(None);
        }
        match password {
            Some(p) if !p.is_empty() => {
                self.check_password(auth, p, "password").await?;
                Ok(Some(self.sessions.reissue(&auth.session.id).await?))
            }
            _ => Err(AppError::ReauthRequired),
        }
    }

    /// Ends every session of the user but this one (offered after a change to how they
    /// sign in). Needs a recent password entry, as ending one other session does.
    pub(crate) async fn end_other_sessions(
        &self,
        auth: &Authenticated,
        password: Option<SecretString>,
        client: &ClientInfo,
    ) -> Result<(u64, Option<IssuedToken>), AppError> {
        let reissued = self.require_recent_password(auth, password).await?;
        let ended = self
            .store
            .end_other_sessions(auth.user.id, &auth.session.id)
            .await?;
        let detail = format!("{ended} sessions");
        self.audit_user("other_sessions_ended", auth, client, Some(&detail))
            .await;
        Ok((ended, reissued))
    }

    pub(crate) async fn end_session(
        &self,
        auth: &Authenticated,
        target: &str,
        password: Option<SecretString>,
        client: &ClientInfo,
    ) -> Result<Option<IssuedToken>, AppError> {
        let reissued = if target == auth.session.id {
            None
        } else {
            self.require_recent_password(auth, password).await?
        };
        if !self.sessions.end(auth.user.id, target).await? {
            // Not this user's (or no longer anyone's): a refused authorisation, audited.
            self.audit_user("session_end_refused", auth, client, None)
                .await;
            return Err(AppError::NotFound);
        }
        self.audit_user("session_ended", auth, client, None).await;
        Ok(reissued)
    }
}

/// The audit trail's log line (the row is written by the store). Untrusted text only
/// through `LogSafe`; never a secret.
pub(crate) fn log_audit(record: &AuditRecord<'_>) {
    tracing::info!(
        target: "palisade::audit",
        event = record.event,
        user_id = record.user_id,
        subject = record.subject.map(|s| LogSafe::new(s).to_string()),
        client = record.client,
        detail = record.detail.map(|d| LogSafe::new(d).to_string()),
    );
}
