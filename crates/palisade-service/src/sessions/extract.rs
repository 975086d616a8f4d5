//! The signed-in user, for handlers: `Auth` and `MaybeAuth` for everything, `Enrolling`
//! and `MaybeEnrolling` for the few places a session may reach before it has the second
//! factor that `require_second_factor` asks for (adding one, signing out).

use axum::extract::{FromRef, FromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;

use super::{Authenticated, PresentedToken};
use crate::error::AppError;
use crate::state::AppState;

/// Where a session without the required second factor is sent (pages) — the only page
/// it reaches besides signing out.
const ENROL_PAGE: &str = "/account/second-factors";

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
        let MaybeEnrolling(auth) = MaybeEnrolling::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match auth {
            Some(auth) if app.accounts.sessions.needs_second_factor(&auth) => {
                // Pages go to where one is added; programs are told.
                Err(if parts.uri.path().starts_with("/api/") {
                    AppError::SecondFactorEnrolment.into_response()
                } else {
                    crate::web::see_other(ENROL_PAGE)
                })
            }
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
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let MaybeEnrolling(auth) = MaybeEnrolling::from_request_parts(parts, state).await?;
        auth.map(Enrolling).ok_or(AppError::Unauthenticated)
    }
}

/// Like [`Enrolling`] but absent instead of refused.
pub(crate) struct MaybeEnrolling(pub(crate) Option<Authenticated>);

impl<S> FromRequestParts<S> for MaybeEnrolling
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let state = AppState::from_ref(state);
        match PresentedToken::from_parts(parts) {
            Some(token) => Ok(MaybeEnrolling(
                state.accounts.sessions.authenticate(&token).await?,
            )),
            None => Ok(MaybeEnrolling(None)),
        }
    }
}
