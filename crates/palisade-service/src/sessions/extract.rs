//! `Auth` and `MaybeAuth`: the signed-in user, for handlers.

use axum::extract::{FromRef, FromRequestParts};
use http::request::Parts;

use super::{Authenticated, PresentedToken};
use crate::error::AppError;
use crate::state::AppState;

/// The signed-in user, from the session cookie or an `Authorization: Bearer` token.
pub(crate) struct Auth(pub(crate) Authenticated);

impl<S> FromRequestParts<S> for Auth
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let MaybeAuth(auth) = MaybeAuth::from_request_parts(parts, state).await?;
        auth.map(Auth).ok_or(AppError::Unauthenticated)
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
        match PresentedToken::from_parts(parts) {
            Some(token) => Ok(MaybeAuth(
                state.accounts.sessions.authenticate(&token).await?,
            )),
            None => Ok(MaybeAuth(None)),
        }
    }
}
