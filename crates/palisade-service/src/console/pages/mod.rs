//! The console (`/admin`): server-rendered pages over the same service as the admin API,
//! usable without JavaScript under the strict CSP. The gate is the API's: everyone but an
//! administrator gets the very 404 of a path that does not exist; an administrator
//! without a second factor is sent to add one. Each change is a form with the session's
//! form token, the password when its last entry is stale, and a second factor when the
//! change concerns who administers.
//!
//! - `users.rs`: the search (`/admin`) and one user (`/admin/users/{name}`)
//! - `actions.rs`: the forms that change a user
//! - `audit.rs`: the audit log (`/admin/audit`), exported through the admin API
//! - `operations.rs`: groups (`/admin/groups`) and operations (`/admin/operations`)
//! - `clients.rs`: the OpenID provider's clients (`/admin/clients`)

mod actions;
mod audit;
mod clients;
mod operations;
mod users;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::access::ConsoleAdmin;
use crate::sessions::MaybeSignedIn;
use crate::state::AppState;
use crate::web::see_other;

/// What every console page shows around its content.
pub(crate) struct Frame {
    /// The page's section in the console's navigation.
    pub(crate) section: &'static str,
    pub(crate) csrf: String,
    /// The password must be entered again for a change.
    pub(crate) reauth_due: bool,
    pub(crate) admin: String,
}

impl Frame {
    pub(crate) fn new(state: &AppState, admin: &ConsoleAdmin, section: &'static str) -> Self {
        let auth = &admin.0;
        Self {
            section,
            csrf: state.forms.token(auth.session.id.as_bytes()),
            reauth_due: state.accounts.reauth_due(auth),
            admin: auth.user.username.clone(),
        }
    }
}

/// The pages' gate: as the API's (see `access.rs`), but an administrator without a second
/// factor is sent to the page that adds one.
async fn admins_only_pages(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let auth = match MaybeSignedIn::from_request_parts(&mut parts, &state).await {
        Ok(MaybeSignedIn(Some(auth))) => auth,
        Ok(MaybeSignedIn(None)) => return not_found().await,
        Err(e) => return e.into_response(),
    };
    match state.console.is_admin(auth.user.id).await {
        Ok(true) => {}
        Ok(false) => return not_found().await,
        Err(e) => return e.into_response(),
    }
    if auth.session.second_factor == 0 {
        return see_other("/account/second-factors");
    }
    parts.extensions.insert(ConsoleAdmin(auth));
    next.run(Request::from_parts(parts, body)).await
}

/// What a path that does not exist answers (the router's own 404): the console's paths
/// answer the same to everyone but administrators.
async fn not_found() -> Response {
    http::StatusCode::NOT_FOUND.into_response()
}

pub(crate) fn router(state: AppState) -> Router<AppState> {
    let pages = Router::new()
        .route("/", get(users::search))
        .route("/users/{username}", get(users::user))
        .route("/users/{username}/{action}", post(actions::submit))
        .route("/audit", get(audit::page))
        .route("/groups", get(operations::groups))
        .route("/operations", get(operations::page))
        .route("/clients", get(clients::page).post(clients::add))
        .route("/clients/{id}/{action}", post(clients::change))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state,
            admins_only_pages,
        ));
    // `/admin` itself and everything under it.
    Router::new().nest("/admin", pages)
}
