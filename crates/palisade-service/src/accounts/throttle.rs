//! Login and registration throttling for the account service: the counter keys, and the
//! checks that count an attempt before any hashing (see `palisade::throttle`).

use palisade::http::ClientInfo;
use palisade::throttle::Decision;
use palisade::validate::{Email, Username};

use super::Accounts;
use crate::error::AppError;
use crate::store::{LoginGate, StoredHash, UserRow};

/// The throttle table's keys: one format, written only here.
pub(crate) mod keys {
    /// Logins per client address (IPv6 by /64), per window.
    pub(crate) fn client_logins(client_key: &str) -> String {
        format!("ip:{client_key}")
    }

    /// Registrations per client address, per window.
    pub(crate) fn client_registrations(client_key: &str) -> String {
        format!("reg:{client_key}")
    }

    /// An existing account's failures, from every client. (The console's search for
    /// throttled users names this shape in SQL: `store/admin.rs`.)
    pub(crate) fn account(user_id: i64) -> String {
        format!("acct:id:{user_id}")
    }

    /// A name nobody has: counted exactly like an account.
    pub(crate) fn unknown_account(name: &str) -> String {
        format!("acct:name:{name}")
    }

    /// One account's failures from one client.
    pub(crate) fn pair(account_key: &str, client_key: &str) -> String {
        format!("{}{client_key}", pair_prefix(account_key))
    }

    /// Second-step and second-factor checks per client address, per window.
    pub(crate) fn client_second_steps(client_key: &str) -> String {
        format!("2fa-ip:{client_key}")
    }

    /// An account's second-factor checks, per hour.
    pub(crate) fn second_step_account(user_id: i64) -> String {
        format!("2fa:acct:{user_id}")
    }

    /// An account's second-factor checks from one client address, per hour.
    pub(crate) fn second_step_pair(user_id: i64, client_key: &str) -> String {
        format!("2fa:pair:{user_id}:{client_key}")
    }

    /// "Someone tried to sign up with your address" notices per account, per hour.
    pub(crate) fn signup_notices(user_id: i64) -> String {
        format!("notice:signup:{user_id}")
    }

    /// "Someone knows your password" notices per account, per hour.
    pub(crate) fn wrong_code_notices(user_id: i64) -> String {
        format!("notice:2fa:{user_id}")
    }

    /// Password reset requests and completions per client address, per window.
    pub(crate) fn client_resets(client_key: &str) -> String {
        format!("reset-ip:{client_key}")
    }
    /// Reset messages to one address (by its comparison key), per hour.
    pub(crate) fn address_resets(email_key: &str) -> String {
        format!("reset:{email_key}")
    }
    /// Address-confirmation messages for one account, per hour.
    pub(crate) fn account_email_links(user_id: i64) -> String {
        format!("email:acct:{user_id}")
    }
    /// New-browser sign-in notices to one account, per hour.
    pub(crate) fn sign_in_notices(user_id: i64) -> String {
        format!("signin-notice:{user_id}")
    }
    /// What every pair key of an account starts with (to clear them all).
    pub(crate) fn pair_prefix(account_key: &str) -> String {
        format!("pair:{account_key}|")
    }
}

impl Accounts {
    /// Counts one attempt against a per-client rate; refuses past it.
    pub(crate) async fn rate(&self, key: &str, client: &ClientInfo) -> Result<(), AppError> {
        let counter = self
            .store
            .count_attempt(key, self.clock.now(), self.throttle.client_window as i64)
            .await?;
        if let Decision::Throttled { retry_after } =
            self.throttle.check_rate(counter, self.clock.now())
        {
            let which = key.split(':').next().unwrap_or("");
            return Err(self.refuse(retry_after, None, None, client, which).await);
        }
        Ok(())
    }

    /// Counts one attempt against `user`'s allowance of `max` per `window` seconds under
    /// `key`; refuses past it (the attempt stays counted: a refusal spends the window).
    pub(crate) async fn limit(
        &self,
        key: &str,
        window: i64,
        max: u32,
        user: &UserRow,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let t = self.clock.now();
        let counter = self.store.count_attempt(key, t, window).await?;
        if counter.failures > max {
            let retry_after = (counter.at + window - t).max(1) as u64;
            let which = key.split(':').next().unwrap_or("");
            return Err(self
                .refuse(retry_after, Some(user), Some(&user.username), client, which)
                .await);
        }
        Ok(())
    }

    /// A refused attempt: counted in the metrics, audited, answered with its wait.
    async fn refuse(
        &self,
        retry_after: u64,
        user: Option<&UserRow>,
        subject: Option<&str>,
        client: &ClientInfo,
        which: &str,
    ) -> AppError {
        metrics::counter!("palisade_throttled_total").increment(1);
        let id = user.map(|u| u.id);
        self.audit("throttled", id, subject, Some(client), Some(which))
            .await;
        AppError::Throttled { retry_after }
    }

    /// Counts a login attempt into its (account, client) and account-wide delay counters
    /// before any hashing, so that attempts in flight are seen by the next check; refuses
    /// it, counting nothing, when either counter owes a delay.
    pub(super) async fn count_login_attempt(
        &self,
        pair_key: &str,
        account_key: &str,
        user: Option<&UserRow>,
        identifier: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let t = self.clock.now();
        let gate = self
            .store
            .count_login_attempt(
                pair_key,
                self.throttle.schedule(false),
                account_key,
                self.throttle.schedule(true),
                t,
            )
            .await?;
        let LoginGate::Refused {
            account_wide,
            counter,
        } = gate
        else {
            return Ok(());
        };
        let retry_after = match self.throttle.check_delay(counter, t, account_wide) {
            Decision::Throttled { retry_after } => retry_after,
            // The delay ended between the two statements: a retry will be counted.
            Decision::Allowed => 1,
        };
        Err(self
            .refuse(retry_after, user, Some(identifier), client, "account")
            .await)
    }

    /// Counts a login attempt against its address's rate and looks the identifier up (an
    /// email address when it has an `@`, else a username), in one round trip; refuses
    /// past the rate. Returns the throttle key for the account (by id when it exists, by
    /// name when it does not, counted alike), the user, the highest imported bcrypt cost
    /// still stored, and whether the user has a second factor.
    pub(super) async fn find_login(
        &self,
        identifier: &str,
        client_key: &str,
        client: &ClientInfo,
    ) -> Result<(String, Option<(UserRow, StoredHash)>, u32, bool), AppError> {
        let (username, email_key) = if identifier.contains('@') {
            (
                String::new(),
                Email::parse(identifier)
                    .map(|e| e.comparison_key())
                    .unwrap_or_default(),
            )
        } else {
            (
                Username::parse(identifier)
                    .map(|u| u.as_str().to_owned())
                    .unwrap_or_default(),
                String::new(),
            )
        };
        // A malformed identifier names nobody, but is looked up all the same (same work).
        let t = self.clock.now();
        let rate_key = keys::client_logins(client_key);
        let found = self
            .store
            .login_lookup(
                &rate_key,
                t,
                self.throttle.client_window as i64,
                &username,
                &email_key,
            )
            .await?;
        if let Decision::Throttled { retry_after } = self.throttle.check_rate(found.rate, t) {
            return Err(self.refuse(retry_after, None, None, client, "ip").await);
        }
        let key = match &found.user {
            Some((u, _)) => keys::account(u.id),
            None if username.is_empty() && email_key.is_empty() => {
                let name: String = identifier.chars().take(254).collect();
                keys::unknown_account(&name.to_lowercase())
            }
            None => keys::unknown_account(&format!("{username}{email_key}")),
        };
        Ok((key, found.user, found.legacy_cost, found.second_factor))
    }
}
