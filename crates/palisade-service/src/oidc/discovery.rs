//! Discovery (OIDC Discovery 1.0, RFC 8414) and the key set: public, cacheable, readable
//! from any origin.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use serde_json::{Value, json};

use super::api::{AUTHORIZE, END_SESSION, INTROSPECT, JWKS, REVOKE, TOKEN, USERINFO};
use super::clients::SCOPES;
use super::jwt::Alg;
use super::signing::JWKS_MAX_AGE;
use super::tokens::{ACR_MFA, ACR_PASSWORD};
use crate::state::AppState;

fn public(value: Value, max_age: i64) -> Response {
    let mut response = Json(value).into_response();
    let headers = response.headers_mut();
    if let Ok(cache) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        headers.insert(header::CACHE_CONTROL, cache);
    }
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// The provider's metadata.
pub(super) fn metadata(state: &AppState) -> Value {
    let oidc = &state.oidc;
    let algs: Vec<&str> = Alg::ALL.iter().map(|a| a.name()).collect();
    json!({
        "issuer": oidc.issuer,
        "authorization_endpoint": oidc.url(AUTHORIZE),
        "token_endpoint": oidc.url(TOKEN),
        "userinfo_endpoint": oidc.url(USERINFO),
        "jwks_uri": oidc.url(JWKS),
        "introspection_endpoint": oidc.url(INTROSPECT),
        "revocation_endpoint": oidc.url(REVOKE),
        "end_session_endpoint": oidc.url(END_SESSION),
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": algs,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "acr_values_supported": [ACR_PASSWORD, ACR_MFA],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid", "at_hash", "name", "preferred_username", "updated_at", "email", "email_verified", "groups"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
    })
}

#[utoipa::path(
    get,
    path = "/.well-known/openid-configuration",
    tag = "openid",
    operation_id = "oidc_discovery",
    responses((status = 200, description = "The OpenID provider's metadata", body = serde_json::Value))
)]
pub(crate) async fn openid_configuration(State(state): State<AppState>) -> Response {
    public(metadata(&state), 3600)
}

#[utoipa::path(
    get,
    path = "/.well-known/oauth-authorization-server",
    tag = "openid",
    operation_id = "oauth_authorization_server_metadata",
    responses((status = 200, description = "The same metadata, for OAuth clients (RFC 8414)", body = serde_json::Value))
)]
pub(crate) async fn oauth_metadata(State(state): State<AppState>) -> Response {
    public(metadata(&state), 3600)
}

#[utoipa::path(
    get,
    path = "/oauth2/jwks",
    tag = "openid",
    operation_id = "oidc_jwks",
    responses(
        (status = 200, description = "The public keys tokens are signed with, the next ones included", body = serde_json::Value),
        (status = 503, description = "The database is unavailable"),
    )
)]
pub(crate) async fn jwks(State(state): State<AppState>) -> Response {
    match state.oidc.keys.jwks().await {
        Ok(set) if set["keys"].as_array().is_some_and(|k| !k.is_empty()) => {
            public(set, JWKS_MAX_AGE)
        }
        Ok(_) => {
            // No key yet (no client has signed in): made now, so the set is never empty.
            match state
                .oidc
                .keys
                .rotate_due()
                .await
                .and(state.oidc.keys.jwks().await)
            {
                Ok(set) => public(set, JWKS_MAX_AGE),
                Err(e) => e.into_response(),
            }
        }
        Err(e) => e.into_response(),
    }
}
