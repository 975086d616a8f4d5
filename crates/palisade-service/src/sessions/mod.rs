//! Sessions: opaque 256-bit tokens, only their SHA-256 stored; idle and absolute expiry;
//! the cookie, the extractors, and the cleanup of expired rows.

pub(crate) mod api;
mod cleanup;
mod cookie;
mod extract;
mod token;

use std::sync::Arc;

use palisade::http::ClientInfo;

use crate::clock::Clock;
use crate::error::AppError;
use crate::store::{SessionRow, Store, UserRow};

pub(crate) use cleanup::spawn_cleanup;
pub use cookie::{
    DOMAIN_SESSION_COOKIE, PASSKEY_SIGN_IN_COOKIE, PENDING_LOGIN_COOKIE, SESSION_COOKIE,
};
pub(crate) use cookie::{PresentedToken, SessionCookies};
pub(crate) use extract::{Auth, Enrolling, MaybeAuth, MaybeEnrolling, MaybeSignedIn, SignedIn};
pub(crate) use token::{IssuedToken, hex, random_bytes, token_hash};

/// A client's `User-Agent` as stored beside a login: no control characters, at most 200.
pub(crate) fn clean_user_agent(user_agent: &str) -> String {
    user_agent
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect()
}

/// Session timing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionPolicy {
    pub(crate) idle_secs: i64,
    pub(crate) absolute_secs: i64,
    pub(crate) reauth_secs: i64,
    /// Sessions without a second factor reach only where one is added.
    pub(crate) require_second_factor: bool,
    /// Users must confirm their address before they reach anything else.
    pub(crate) require_verified_email: bool,
}

/// What a request signed in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Credential {
    /// An API token: one factor, whatever the session that made it had.
    ApiToken,
    /// A session begun with the password alone.
    Session,
    /// A session begun with a second factor (or whose user proved one since).
    SessionWithSecondFactor,
}

/// An authenticated request's session and user.
#[derive(Debug, Clone)]
pub(crate) struct Authenticated {
    pub(crate) session: Arc<SessionRow>,
    pub(crate) user: Arc<UserRow>,
}

/// Starts, checks, renews, lists and ends sessions.
pub(crate) struct Sessions {
    store: Store,
    clock: Clock,
    policy: SessionPolicy,
    /// Writes the session's cookies.
    pub(crate) cookies: SessionCookies,
}

impl Sessions {
    pub(crate) fn new(
        store: Store,
        clock: Clock,
        policy: SessionPolicy,
        cookies: SessionCookies,
    ) -> Self {
        Self {
            store,
            clock,
            policy,
            cookies,
        }
    }

    pub(crate) fn policy(&self) -> SessionPolicy {
        self.policy
    }

    /// A new session for `user_id` (a new token, idle and absolute expiry) and the token's
    /// hash, for the store to insert ([`Store::finish_login`]).
    pub(crate) fn issue(
        &self,
        user_id: i64,
        client: &ClientInfo,
        user_agent: &str,
    ) -> Result<(IssuedToken, SessionRow, String), AppError> {
        let token = IssuedToken::generate()?;
        let t = self.clock.now();
        let session = SessionRow {
            id: hex(&random_bytes::<16>()?),
            user_id,
            created_at: t,
            last_seen_at: t,
            last_auth_at: t,
            expires_at: t + self.policy.absolute_secs,
            client_addr: client.addr.to_string(),
            user_agent: clean_user_agent(user_agent),
            second_factor: 0,
        };
        let hash = token.expose(token_hash);
        Ok((token, session, hash))
    }

    /// The session and user behind a presented token, if it is current.
    pub(crate) async fn authenticate(
        &self,
        token: &PresentedToken,
    ) -> Result<Option<Authenticated>, AppError> {
        let Some(hash) = token.hash() else {
            return Ok(None);
        };
        let Some((mut session, mut user)) = self.store.session_with_user(&hash).await? else {
            return Ok(None);
        };
        let t = self.clock.now();
        if self.expired(&session, t) {
            // Remembered rows may be up to `FRESH_FOR` old: another instance may have
            // recorded a use since. The database decides.
            let Some(fresh) = self.store.read_session_with_user(&hash).await? else {
                return Ok(None);
            };
            (session, user) = fresh;
            if self.expired(&session, t) {
                self.store.end_session(session.user_id, &session.id).await?;
                return Ok(None);
            }
        }
        if user.disabled != 0 {
            return Ok(None);
        }
        // `last seen` moves at most once a minute: most requests write nothing.
        if session.last_seen_at <= t - 60
            && let Err(e) = self.store.touch_session(&hash, &session.id, t).await
        {
            // A read must not fail because `last seen` could not move (the disk is full):
            // the session then ages from its last recorded use, which only ends it sooner.
            let Some(why) = e.unavailable() else {
                return Err(e.into());
            };
            tracing::warn!(why, "could not record a session's last use");
        }
        Ok(Some(Authenticated { session, user }))
    }

    /// Whether this session may reach only where a second factor is added.
    pub(crate) fn needs_second_factor(&self, auth: &Authenticated) -> bool {
        self.policy.require_second_factor && auth.session.second_factor == 0
    }

    /// Whether `require_verified_email` keeps this user to the page that asks them to
    /// confirm their address.
    pub(crate) fn needs_verified_email(&self, auth: &Authenticated) -> bool {
        self.policy.require_verified_email && auth.user.email_verified_at.is_none()
    }

    /// Past its absolute lifetime, or idle for too long, at `t`.
    fn expired(&self, session: &SessionRow, t: i64) -> bool {
        session.expires_at <= t || session.last_seen_at + self.policy.idle_secs <= t
    }

    /// Gives a session a new token and a fresh password-entry time.
    pub(crate) async fn reissue(&self, session_id: &str) -> Result<IssuedToken, AppError> {
        let token = IssuedToken::generate()?;
        self.store
            .reissue_session(session_id, &token.expose(token_hash), self.clock.now())
            .await?;
        Ok(token)
    }

    /// The user's sessions, newest first.
    pub(crate) async fn list(&self, user_id: i64) -> Result<Vec<SessionRow>, AppError> {
        Ok(self.store.sessions_of(user_id).await?)
    }

    /// Ends one of the user's sessions; `false` when it is not theirs or does not exist.
    pub(crate) async fn end(&self, user_id: i64, id: &str) -> Result<bool, AppError> {
        Ok(self.store.end_session(user_id, id).await?)
    }
}
