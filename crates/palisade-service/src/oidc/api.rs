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

/// Browser apps (public clients) call the token, UserInfo, introspection and revocation
/// endpoints from their own origin: any origin may read the answers, since the requests
/// carry no ambient credential (no cookie is read there, and credentialed CORS is never
/// allowed): the caller brings its code, token or secret itself.
async fn readable_from_any_origin(
    mut response: axum::response::Response,
) -> axum::response::Response {
    let headers = response.headers_mut();
    headers.insert(
        http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
        http::HeaderValue::from_static("*"),
    );
    response
}

/// The CORS preflight of those endpoints: POST (and GET for UserInfo) with
/// `Authorization` and `Content-Type`.
async fn preflight() -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        http::StatusCode::NO_CONTENT,
        [
            (http::header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (http::header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST"),
            (
                http::header::ACCESS_CONTROL_ALLOW_HEADERS,
                "authorization, content-type",
            ),
            (http::header::ACCESS_CONTROL_MAX_AGE, "600"),
        ],
    )
        .into_response()
}

pub(crate) fn router() -> Router<AppState> {
    let for_browser_apps = Router::new()
        .route(TOKEN, post(super::token::token).options(preflight))
        .route(
            USERINFO,
            get(super::userinfo::userinfo)
                .post(super::userinfo::userinfo)
                .options(preflight),
        )
        .route(
            INTROSPECT,
            post(super::introspect::introspect).options(preflight),
        )
        .route(REVOKE, post(super::introspect::revoke).options(preflight))
        .layer(axum::middleware::map_response(readable_from_any_origin));
    Router::new()
        .merge(for_browser_apps)
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
