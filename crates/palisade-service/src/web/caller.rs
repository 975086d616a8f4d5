//! Who is calling: a session (cookie or bearer) or an API token, for the few endpoints API
//! tokens may reach. Here, beside the other extractors' shared code, because it reads the
//! application state; the token service itself (`api_tokens`) knows nothing of it.

use std::sync::Arc;

use crate::api_tokens::PREFIX;
use crate::error::AppError;
use crate::sessions::{Credential, PresentedToken};
use crate::state::AppState;
use crate::store::UserRow;

/// The user behind a request's credentials: a session (cookie or bearer) or an API token,
/// and which. Only for what API tokens may reach (`/api/v1/me`, the forward-auth endpoints).
pub(crate) async fn caller(
    state: &AppState,
    parts: &http::request::Parts,
) -> Result<Option<(Arc<UserRow>, Credential)>, AppError> {
    let Some(token) = PresentedToken::from_parts(parts) else {
        return Ok(None);
    };
    // Hashed once, by `authenticate`, not here as well.
    if token.has_prefix(PREFIX) {
        let required = state.accounts.sessions.policy().require_second_factor;
        let caller = state.api_tokens.authenticate(&token, required).await?;
        return Ok(caller.map(|c| (c.user, Credential::ApiToken)));
    }
    Ok(state
        .accounts
        .sessions
        .authenticate(&token)
        .await?
        .map(|auth| {
            let credential = match auth.session.second_factor {
                0 => Credential::Session,
                _ => Credential::SessionWithSecondFactor,
            };
            (auth.user, credential)
        }))
}

/// [`caller`] as an extractor that refuses (401) when there is nobody.
pub(crate) struct Caller(pub(crate) Arc<UserRow>);

impl axum::extract::FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &AppState,
    ) -> Result<Self, AppError> {
        match caller(state, parts).await? {
            None => Err(AppError::Unauthenticated),
            Some((_, Credential::Session))
                if state.accounts.sessions.policy().require_second_factor =>
            {
                Err(AppError::SecondFactorEnrolment)
            }
            Some((user, _))
                if state.accounts.sessions.policy().require_verified_email
                    && user.email_verified_at.is_none() =>
            {
                Err(AppError::EmailUnverified)
            }
            Some((user, _)) => Ok(Caller(user)),
        }
    }
}
