//! Who may administer: a signed-in member of `admin_group` whose session began with (or
//! since proved) a second factor. Everyone else — anonymous, signed in but not an
//! administrator, an API token — gets 404 for every path under the admin API, whatever the
//! method or the path (so nothing tells them it exists). Membership is read at every
//! request: a removal takes effect at once.

use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::sessions::{Authenticated, MaybeSignedIn};
use crate::state::AppState;

/// The administrator a request comes from (put in the request by [`admins_only`]).
#[derive(Clone)]
pub(crate) struct AdminSession(pub(crate) Authenticated);

/// The gate in front of the admin API: see the module's documentation.
pub(crate) async fn admins_only(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let auth = match MaybeSignedIn::from_request_parts(&mut parts, &state).await {
        Ok(MaybeSignedIn(Some(auth))) => auth,
        Ok(MaybeSignedIn(None)) => return AppError::NotFound.into_response(),
        Err(e) => return e.into_response(),
    };
    match state.console.is_admin(auth.user.id).await {
        Ok(true) => {}
        Ok(false) => return AppError::NotFound.into_response(),
        Err(e) => return e.into_response(),
    }
    if auth.session.second_factor == 0 {
        return AppError::AdminSecondFactor.into_response();
    }
    parts.extensions.insert(AdminSession(auth));
    next.run(Request::from_parts(parts, body)).await
}
