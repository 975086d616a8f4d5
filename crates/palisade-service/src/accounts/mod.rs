//! Registration, login, password changes and re-authentication: the account logic behind
//! both the JSON API and the pages.

pub(crate) mod api;
pub(crate) mod browsers;
mod email;
pub(crate) mod email_api;
pub(crate) mod email_pages;
pub(crate) mod pages;
mod signup;
pub(crate) mod signup_web;
mod throttle;

pub(crate) use throttle::keys;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use palisade::http::ClientInfo;
use palisade::password::{HashPool, PasswordPolicy, Verdict, user_words};
use palisade::secret::SecretString;
use palisade::throttle::{ThrottlePolicy, client_key};
use palisade::validate::{DisplayName, Email, LogSafe, Password, Username};

use crate::clock::Clock;
use crate::error::AppError;
use crate::mail::Content;
use crate::sessions::{Authenticated, IssuedToken, Sessions, clean_user_agent, token_hash};
use crate::store::{
    AuditRecord, LoginStart, NewMail, NewUser, PendingLoginRow, Store, StoredHash, UserRow,
    Verification,
};

/// The raw fields of a registration.
pub(crate) struct Registration {
    pub(crate) username: String,
    pub(crate) email: String,
    pub(crate) password: SecretString,
    pub(crate) display_name: Option<String>,
}

/// How long a login may wait between its password and its second step, seconds.
pub(crate) const PENDING_LOGIN_SECS: i64 = 300;

/// What a good password gives.
#[derive(Debug)]
pub(crate) enum SignIn {
    /// A session: the account has no second factor.
    Session { token: IssuedToken, user: UserRow },
    /// A pending login, good only for the second step, until `expires_at`.
    SecondStep { token: IssuedToken, expires_at: i64 },
}

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

/// What a registration did.
pub(crate) enum Registered {
    /// Made the account (`signup_by_link` off).
    Account(Box<UserRow>),
    /// Stored the sign-up; its address gets the link (or its owner a notice).
    LinkSent,
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

    /// Logs in. Every path does the same work: an unknown or disabled account gets a
    /// dummy verification and the same answer; a throttled attempt is refused before any
    /// hashing.
    pub(crate) async fn login(
        &self,
        identifier: &str,
        password: SecretString,
        client: &ClientInfo,
        user_agent: &str,
    ) -> Result<SignIn, AppError> {
        if identifier.is_empty() {
            return Err(palisade::validate::ValidationError::required("identifier").into());
        }
        let password = Password::from_secret(password)?;
        let client_key = client_key(client.addr);
        let (account_key, found, legacy_cost, second_factor) =
            self.find_login(identifier, &client_key, client).await?;
        let pair_key = keys::pair(&account_key, &client_key);
        let user = found.as_ref().map(|(u, _)| u);
        self.count_login_attempt(&pair_key, &account_key, user, identifier, client)
            .await?;
        let verdict = self
            .verify_equal_work(found.as_ref(), password, legacy_cost)
            .await?;
        let (verified, password, (user, hash)) = match (verdict, found) {
            (Some((Verdict::Valid(v), password)), Some(f)) if f.0.disabled == 0 => (v, password, f),
            (_, found) => {
                let user = found.map(|(u, _)| u);
                // Already counted, before the hash started.
                metrics::counter!("palisade_logins_total", "outcome" => "failed").increment(1);
                let id = user.as_ref().map(|u| u.id);
                self.audit("login_failed", id, Some(identifier), Some(client), None)
                    .await;
                return Err(AppError::BadCredentials);
            }
        };
        if verified.needs_rehash() {
            self.rehash(&user, &hash, password, client).await?;
        }
        drop(hash);
        // This client knows the password: its pair counter starts over, the account-wide
        // one takes back this attempt only; the session (or, with a second factor, the
        // pending login) starts; all in one round trip.
        let client_addr = client.addr.to_string();
        let mut record = AuditRecord {
            at: self.clock.now(),
            event: "logged_in",
            user_id: Some(user.id),
            subject: Some(user.username.as_str()),
            client: Some(&client_addr),
            detail: None,
        };
        if second_factor {
            let token = IssuedToken::generate()?;
            let t = self.clock.now();
            let pending = PendingLoginRow {
                user_id: user.id,
                created_at: t,
                expires_at: t + PENDING_LOGIN_SECS,
                client_addr: client_addr.clone(),
                user_agent: clean_user_agent(user_agent),
            };
            record.event = "password_accepted";
            let hash = token.expose(token_hash);
            self.store
                .finish_login(
                    &pair_key,
                    &account_key,
                    LoginStart::Pending(&pending, &hash),
                    &record,
                )
                .await?;
            log_audit(&record);
            metrics::counter!("palisade_logins_total", "outcome" => "second_step").increment(1);
            return Ok(SignIn::SecondStep {
                token,
                expires_at: pending.expires_at,
            });
        }
        let (token, session, token_hash) = self.sessions.issue(user.id, client, user_agent)?;
        self.store
            .finish_login(
                &pair_key,
                &account_key,
                LoginStart::Session(&session, &token_hash),
                &record,
            )
            .await?;
        log_audit(&record);
        metrics::counter!("palisade_logins_total", "outcome" => "success").increment(1);
        Ok(SignIn::Session { token, user })
    }

    /// Verifies `password` against `user`'s hash (a dummy hash when there is no user), and
    /// pads the work so that unknown, imported and native accounts take the same time. On a
    /// known user, returns the verdict and the password (for a rehash).
    async fn verify_equal_work(
        &self,
        user: Option<&(UserRow, StoredHash)>,
        password: Password,
        legacy_cost: u32,
    ) -> Result<Option<(Verdict, Password)>, AppError> {
        let started = Instant::now();
        let stored_is_legacy = user.is_some_and(|(_, hash)| {
            matches!(
                palisade::password::inspect(hash.as_str()),
                Ok(palisade::password::StoredKind::ImportedBcrypt { .. })
            )
        });
        // The password goes to the hashing pool; keep a copy for a rehash or the padding.
        let copy = password.expose(|p| Password::parse(p.to_owned()))?;
        let verdict = match user {
            Some((_, hash)) => Some(
                self.hashing
                    .verify(password, hash.as_str().to_owned())
                    .await?,
            ),
            None => {
                self.hashing.dummy_verify(password).await;
                None
            }
        };
        // While imported hashes remain, a login that did not verify a legacy hash pays for
        // one, and one that did pays for the Argon2id it skipped.
        if legacy_cost > 0 {
            let padding = copy.expose(|p| Password::parse(p.to_owned()))?;
            if stored_is_legacy {
                self.hashing.dummy_verify(padding).await;
            } else {
                self.hashing.dummy_verify_legacy(padding, legacy_cost).await;
            }
        }
        self.hashed(started);
        Ok(verdict.map(|v| (v, copy)))
    }

    /// Replaces a hash found outdated at login (same password, new algorithm or pepper).
    async fn rehash(
        &self,
        user: &UserRow,
        old_hash: &StoredHash,
        password: Password,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let new_hash = self.timed_hash(password).await?;
        self.store
            .replace_hash(user.id, old_hash.as_str(), &new_hash)
            .await?;
        let name = Some(user.username.as_str());
        self.audit("password_rehashed", Some(user.id), name, Some(client), None)
            .await;
        Ok(())
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
