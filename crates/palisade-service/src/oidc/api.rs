//! The provider's routes. The browser's (authorize, consent, logout) are pages; the
//! others answer apps and resource servers in OAuth's own JSON.

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

pub(crate) const AUTHORIZE: &str = "/oauth2/authorize";
pub(crate) const TOKEN: &str = "/oauth2/token";
pub(crate) const USERINFO: &str = "/oauth2/userinfo";
pub(crate) const JWKS: &str = "/oauth2/jwks";
pub(crate) const INTROSPECT: &str = "/oauth2/introspect";
pub(crate) const REVOKE: &str = "/oauth2/revoke";
pub(crate) const END_SESSION: &str = "/oauth2/logout";

/// Paths apps post to from other origins (a browser app's own page, an `form_post` from
/// an app's logout): their handlers authenticate the client or ask the user, and the
/// shield's cross-site refusal would break them.
pub(crate) const CROSS_SITE_POSTS: [&str; 6] =
    [AUTHORIZE, TOKEN, USERINFO, INTROSPECT, REVOKE, END_SESSION];

/// The token endpoint's form, as the OpenAPI document describes it (the handler reads the
/// form itself: every parameter at most once).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct TokenForm {
    /// `authorization_code`, `refresh_token` or `client_credentials`.
    grant_type: String,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

/// The introspection and revocation endpoints' form.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct TokenQueryForm {
    token: String,
    /// `access_token` or `refresh_token`.
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(super::discovery::openid_configuration),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(super::discovery::oauth_metadata),
        )
        .route(JWKS, get(super::discovery::jwks))
        .route(
            AUTHORIZE,
            get(super::authorize::authorize_get).post(super::authorize::authorize_post),
        )
        .route("/oauth2/consent", post(super::consent::consent_submit))
        .route(TOKEN, post(super::token::token))
        .route(
            USERINFO,
            get(super::userinfo::userinfo).post(super::userinfo::userinfo),
        )
        .route(INTROSPECT, post(super::introspect::introspect))
        .route(REVOKE, post(super::introspect::revoke))
        .route(
            END_SESSION,
            get(super::logout::logout_get).post(super::logout::logout_post),
        )
        .route(
            "/oauth2/logout/confirm",
            post(super::logout::confirm_submit),
        )
        .route("/api/v1/account/apps", get(super::apps::list))
        .route(
            "/api/v1/account/apps/{client_id}",
            axum::routing::delete(super::apps::revoke),
        )
        .route(
            "/account/apps/{client_id}/revoke",
            post(super::apps::revoke_submit),
        )
}
