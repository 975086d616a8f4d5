//! The state every handler shares.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum_extra::extract::CookieJar;
use http::header;
use http::request::Parts;
use metrics_exporter_prometheus::PrometheusHandle;
use palisade::http::FormTokens;

use crate::accounts::{Accounts, Authenticated};
use crate::error::AppError;

/// The session cookie: `__Host-` so it is Secure, host-only and Path=/ by the browser's rule.
pub(crate) const SESSION_COOKIE: &str = "__Host-palisade-session";

pub(crate) struct Inner {
    pub(crate) accounts: Accounts,
    /// Seals vault values; the first key seals, every key opens.
    pub(crate) keyring: palisade::secret::Keyring,
    pub(crate) forms: FormTokens,
    pub(crate) metrics: PrometheusHandle,
    pub(crate) metrics_token: Option<crate::config::Redacted>,
}

#[derive(Clone)]
pub(crate) struct AppState(pub(crate) Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// The signed-in user, from the session cookie or an `Authorization: Bearer` token.
pub(crate) struct Auth(pub(crate) Authenticated);

/// The presented session token, if any.
pub(crate) fn presented_token(parts: &Parts) -> Option<String> {
    if let Some(bearer) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(bearer.trim().to_owned());
    }
    CookieJar::from_headers(&parts.headers)
        .get(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
}

impl<S> FromRequestParts<S> for Auth
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let state = AppState::from_ref(state);
        let token = presented_token(parts).ok_or(AppError::Unauthenticated)?;
        state
            .accounts
            .authenticate(&token)
            .await?
            .map(Auth)
            .ok_or(AppError::Unauthenticated)
    }
}

/// Like [`Auth`] but absent instead of refused.
pub(crate) struct MaybeAuth(pub(crate) Option<Authenticated>);

impl<S> FromRequestParts<S> for MaybeAuth
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let state = AppState::from_ref(state);
        match presented_token(parts) {
            Some(token) => Ok(MaybeAuth(state.accounts.authenticate(&token).await?)),
            None => Ok(MaybeAuth(None)),
        }
    }
}
