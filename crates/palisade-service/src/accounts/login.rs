//! Signing in with a password: the same work whether or not the account exists, throttled
//! before the hash, rehashed when the parameters moved, and a pending login (not a session)
//! when the account has a second factor.

use super::*;
use crate::error::AppError;
use crate::sessions::{IssuedToken, clean_user_agent, token_hash};
use crate::store::{AuditRecord, LoginStart, PendingLoginRow, StoredHash, UserRow};
use palisade::http::ClientInfo;
use palisade::password::Verdict;
use palisade::secret::SecretString;
use palisade::throttle::client_key;
use palisade::validate::Password;
use std::time::Instant;

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

impl Accounts {
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
}
