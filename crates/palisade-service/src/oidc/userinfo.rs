//! UserInfo (OIDC Core §5.3): the claims an access token's scopes release, for as long as
//! the grant it came from is alive — a password change, a disabled account or an ended
//! session stop it at once, though the token's own expiry is later.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::json;

use super::tokens::{grant_of_jti, has_scope};
use crate::state::AppState;

/// A refusal with the Bearer challenge (RFC 6750 §3).
fn bearer_error(error: &str, description: &str) -> Response {
    let status = match error {
        "invalid_request" => StatusCode::BAD_REQUEST,
        "insufficient_scope" => StatusCode::FORBIDDEN,
        _ => StatusCode::UNAUTHORIZED,
    };
    let challenge = format!(
        "Bearer realm=\"palisade\", error=\"{error}\", error_description=\"{description}\""
    );
    let mut response = (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The bearer token of a request: exactly one `Authorization: Bearer` header.
pub(super) fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ()> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(());
    }
    let text = value.to_str().map_err(|_| ())?;
    let (scheme, token) = text.split_once(' ').ok_or(())?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(());
    }
    Ok(Some(token.trim()))
}

#[utoipa::path(
    get,
    path = "/oauth2/userinfo",
    tag = "openid",
    operation_id = "oidc_userinfo",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The claims the token's scopes release", body = serde_json::Value),
        (status = 400, description = "The credentials cannot be read", body = serde_json::Value),
        (status = 401, description = "No access token, or not a current one", body = serde_json::Value),
        (status = 403, description = "Not a user's token with the openid scope", body = serde_json::Value),
    )
)]
pub(crate) async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let token = match bearer(&headers) {
        Ok(Some(token)) => token,
        Ok(None) => {
            return bearer_error(
                "invalid_token",
                "send the access token as Authorization: Bearer",
            );
        }
        Err(()) => {
            return bearer_error("invalid_request", "the Authorization header cannot be read");
        }
    };
    let oidc = &state.oidc;
    let claims = match oidc.read_access_token(token).await {
        Ok(Some(claims)) => claims,
        Ok(None) => return bearer_error("invalid_token", "the access token is not valid"),
        Err(e) => return e.into_response(),
    };
    let scope = claims["scope"].as_str().unwrap_or("");
    let grant_id = claims["jti"].as_str().and_then(grant_of_jti);
    let (Some(grant_id), true) = (grant_id, has_scope(scope, "openid")) else {
        return bearer_error(
            "insufficient_scope",
            "UserInfo needs a user's token with the openid scope",
        );
    };
    let now = oidc.clock.now();
    let user = match oidc
        .store
        .live_grant_remembered(grant_id, now, oidc.idle_cutoff(now))
        .await
    {
        Ok(Some((_, user))) => user,
        Ok(None) => {
            return bearer_error(
                "invalid_token",
                "the sign-in this token came from has ended",
            );
        }
        Err(e) => return crate::error::AppError::from(e).into_response(),
    };
    let mut body = match oidc.user_claims(&user, scope).await {
        Ok(claims) => claims,
        Err(e) => return e.into_response(),
    };
    body.insert("sub".into(), claims["sub"].clone());
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
