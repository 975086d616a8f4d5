//! The signed-in user, for handlers. Three gates, from the widest:
//! - `SignedIn`/`MaybeSignedIn`: any session (signing out, and the page that asks a user
//!   to confirm their address, which `require_verified_email` sends them to);
//! - `Enrolling`/`MaybeEnrolling`: also past `require_verified_email` (adding the second
//!   factor that `require_second_factor` asks for);
//! - `Auth`/`MaybeAuth`: past both, for everything else.

use axum::extract::{FromRef, FromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;

use super::{Authenticated, PresentedToken};
use crate::error::AppError;
use crate::state::AppState;

/// Where a session without the required second factor is sent (pages) — the only page
/// it reaches besides signing out.
const ENROL_PAGE: &str = "/account/second-factors";
/// Where a user whose address is not confirmed is sent (pages).
const VERIFY_EMAIL_PAGE: &str = "/account/verify-email";

/// Refuses a request: programs are told `error`, pages go to `page`.
fn turn_away(parts: &Parts, error: AppError, page: &str) -> Response {
    if parts.uri.path().starts_with("/api/") {
        error.into_response()
    } else {
        crate::web::see_other(page)
    }
}

/// The signed-in user, from the session cookie or an `Authorization: Bearer` token.
pub(crate) struct Auth(pub(crate) Authenticated);

impl<S> FromRequestParts<S> for Auth
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let MaybeAuth(auth) = MaybeAuth::from_request_parts(parts, state).await?;
        auth.map(Auth)
            .ok_or_else(|| AppError::Unauthenticated.into_response())
    }
}

/// Like [`Auth`] but absent instead of refused.
pub(crate) struct MaybeAuth(pub(crate) Option<Authenticated>);

impl<S> FromRequestParts<S> for MaybeAuth
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let app = AppState::from_ref(state);
        let MaybeEnrolling(auth) = MaybeEnrolling::from_request_parts(parts, state).await?;
        match auth {
            Some(auth) if app.accounts.sessions.needs_second_factor(&auth) => Err(turn_away(
                parts,
                AppError::SecondFactorEnrolment,
                ENROL_PAGE,
            )),
            auth => Ok(MaybeAuth(auth)),
        }
    }
}

/// The signed-in user, even when their session lacks the second factor
/// `require_second_factor` asks for.
pub(crate) struct Enrolling(pub(crate) Authenticated);

impl<S> FromRequestParts<S> for Enrolling
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let MaybeEnrolling(auth) = MaybeEnrolling::from_request_parts(parts, state).await?;
        auth.map(Enrolling)
            .ok_or_else(|| AppError::Unauthenticated.into_response())
    }
}

/// Like [`Enrolling`] but absent instead of refused.
pub(crate) struct MaybeEnrolling(pub(crate) Option<Authenticated>);

impl<S> FromRequestParts<S> for MaybeEnrolling
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let app = AppState::from_ref(state);
        let MaybeSignedIn(auth) = MaybeSignedIn::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match auth {
            Some(auth) if app.accounts.sessions.needs_verified_email(&auth) => Err(turn_away(
                parts,
                AppError::EmailUnverified,
                VERIFY_EMAIL_PAGE,
            )),
            auth => Ok(MaybeEnrolling(auth)),
        }
    }
}

/// Any signed-in user, whatever the site asks of them first.
pub(crate) struct SignedIn(pub(crate) Authenticated);

impl<S> FromRequestParts<S> for SignedIn
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let MaybeSignedIn(auth) = MaybeSignedIn::from_request_parts(parts, state).await?;
        auth.map(SignedIn).ok_or(AppError::Unauthenticated)
    }
}

/// Like [`SignedIn`] but absent instead of refused.
pub(crate) struct MaybeSignedIn(pub(crate) Option<Authenticated>);

impl<S> FromRequestParts<S> for MaybeSignedIn
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let state = AppState::from_ref(state);
        match PresentedToken::from_parts(parts) {
            Some(token) => Ok(MaybeSignedIn(
                state.accounts.sessions.authenticate(&token).await?,
            )),
            None => Ok(MaybeSignedIn(None)),
        }
    }
}
