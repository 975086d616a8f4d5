//! Who may administer: a signed-in member of `admin_group` whose session began with (or
//! since proved) a second factor. Everyone else — anonymous, signed in but not an
//! administrator, an API token without the `admin` scope — gets 404 for every path under
//! the admin API, whatever the method or the path (so nothing tells them it exists). An
//! administrator's API token made with the `admin` scope gets in too. Membership is read
//! at every request: a removal takes effect at once, for sessions and tokens alike.

use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use std::sync::Arc;

use crate::error::AppError;
use crate::sessions::{Authenticated, MaybeSignedIn, PresentedToken};
use crate::state::AppState;
use crate::store::UserRow;

/// The administrator an admin API request comes from (put in the request by
/// [`admins_only`]): their session, or their API token with the `admin` scope.
#[derive(Clone)]
pub(crate) struct AdminSession {
    pub(crate) user: Arc<UserRow>,
    /// `None`: an API token (which cannot re-enter a password or prove a second factor).
    pub(crate) session: Option<Authenticated>,
}

/// The administrator a console page is for: always a session (put in the request by the
/// pages' gate).
#[derive(Clone)]
pub(crate) struct ConsoleAdmin(pub(crate) Authenticated);

/// The gate in front of the admin API: see the module's documentation.
pub(crate) async fn admins_only(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let admin = match MaybeSignedIn::from_request_parts(&mut parts, &state).await {
        Ok(MaybeSignedIn(Some(auth))) => AdminSession {
            user: auth.user.clone(),
            session: Some(auth),
        },
        Ok(MaybeSignedIn(None)) => match admin_token(&state, &parts).await {
            Ok(Some(user)) => AdminSession {
                user,
                session: None,
            },
            Ok(None) => return AppError::NotFound.into_response(),
            Err(e) => return e.into_response(),
        },
        Err(e) => return e.into_response(),
    };
    match state.console.is_admin(admin.user.id).await {
        Ok(true) => {}
        Ok(false) => return AppError::NotFound.into_response(),
        Err(e) => return e.into_response(),
    }
    if admin
        .session
        .as_ref()
        .is_some_and(|auth| auth.session.second_factor == 0)
    {
        return AppError::AdminSecondFactor.into_response();
    }
    parts.extensions.insert(admin);
    next.run(Request::from_parts(parts, body)).await
}

/// The owner of an API token with the `admin` scope presented as the bearer credential;
/// `None` for anything else (no token, another kind, a token without the scope).
async fn admin_token(
    state: &AppState,
    parts: &http::request::Parts,
) -> Result<Option<Arc<UserRow>>, AppError> {
    let Some(token) = PresentedToken::from_parts(parts) else {
        return Ok(None);
    };
    if !token.has_prefix(crate::api_tokens::PREFIX) {
        return Ok(None);
    }
    let required = state.accounts.sessions.policy().require_second_factor;
    // A token whose user lacks the second factor the site requires: as if absent.
    let caller = match state.api_tokens.authenticate(&token, required).await {
        Ok(caller) => caller,
        Err(AppError::SecondFactorEnrolment) => None,
        Err(e) => return Err(e),
    };
    Ok(caller
        .filter(|c| c.scope == crate::api_tokens::Scope::Admin)
        .map(|c| c.user))
}
