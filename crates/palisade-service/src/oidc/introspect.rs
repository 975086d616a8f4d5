//! Introspection (RFC 7662) and revocation (RFC 7009), for authenticated clients and only
//! for their own tokens: another client's token is `active: false` to them, and their
//! revocation of it does nothing.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, header};
use palisade::http::ClientInfo;
use serde_json::{Value, json};

use super::client_auth::{Params, authenticate};
use super::error::{EndpointError, OAuthError};
use super::tokens::grant_of_jti;
use super::{Client, secret_hash};
use crate::state::AppState;

fn no_store(value: Value) -> Response {
    let mut response = Json(value).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[utoipa::path(
    post,
    path = "/oauth2/introspect",
    tag = "openid",
    operation_id = "oidc_introspect",
    request_body(content = super::api::TokenQueryForm, content_type = "application/x-www-form-urlencoded", description = "token (and token_type_hint), with the client's authentication"),
    responses(
        (status = 200, description = "Whether the token is active, and what it is", body = serde_json::Value),
        (status = 400, description = "invalid_request", body = serde_json::Value),
        (status = 401, description = "invalid_client", body = serde_json::Value),
        (status = 429, description = "Too many failed client authentications", body = serde_json::Value),
    )
)]
pub(crate) async fn introspect(
    State(state): State<AppState>,
    client_info: ClientInfo,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result: Result<Value, EndpointError> = async {
        let params = Params::from_form(&headers, &body)?;
        let client = authenticate(&state.oidc, &headers, &params, client_info.addr).await?;
        let token = params
            .get("token")?
            .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
        params.get("token_type_hint")?;
        Ok(describe(&state, &client, token)
            .await?
            .unwrap_or_else(|| json!({"active": false})))
    }
    .await;
    match result {
        Ok(value) => no_store(value),
        Err(e) => e.into_response(),
    }
}

/// What an active token of `client`'s is; `None` when it is not one.
async fn describe(
    state: &AppState,
    client: &Client,
    token: &str,
) -> Result<Option<Value>, EndpointError> {
    let oidc = &state.oidc;
    let now = oidc.clock.now();
    if let Some(claims) = oidc.read_access_token(token).await? {
        if claims["client_id"].as_str() != Some(client.id.as_str()) {
            return Ok(None);
        }
        let mut answer = json!({
            "active": true,
            "token_type": "Bearer",
            "client_id": client.id,
            "scope": claims["scope"],
            "sub": claims["sub"],
            "aud": claims["aud"],
            "iss": claims["iss"],
            "exp": claims["exp"],
            "iat": claims["iat"],
            "jti": claims["jti"],
        });
        if let Some(grant_id) = claims["jti"].as_str().and_then(grant_of_jti) {
            let Some(grant) = oidc
                .store
                .live_grant(grant_id, now, oidc.idle_cutoff(now))
                .await?
            else {
                return Ok(None);
            };
            if let Some(user) = oidc.store.user_by_id(grant.user_id).await? {
                answer["username"] = json!(user.username);
            }
        }
        return Ok(Some(answer));
    }
    let Some((grant_id, iat, exp)) = oidc
        .store
        .grant_of_refresh_token(&secret_hash(token), &client.id, now)
        .await?
    else {
        return Ok(None);
    };
    let Some(grant) = oidc
        .store
        .live_grant(&grant_id, now, oidc.idle_cutoff(now))
        .await?
    else {
        return Ok(None);
    };
    let sub = oidc.subject(client, grant.user_id).await?;
    Ok(Some(json!({
        "active": true,
        "token_type": "refresh_token",
        "client_id": client.id,
        "scope": grant.scope,
        "sub": sub,
        "iss": oidc.issuer,
        "iat": iat,
        "exp": exp,
    })))
}

#[utoipa::path(
    post,
    path = "/oauth2/revoke",
    tag = "openid",
    operation_id = "oidc_revoke",
    request_body(content = super::api::TokenQueryForm, content_type = "application/x-www-form-urlencoded", description = "token (and token_type_hint), with the client's authentication"),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke (the same answer)"),
        (status = 400, description = "invalid_request", body = serde_json::Value),
        (status = 401, description = "invalid_client", body = serde_json::Value),
        (status = 429, description = "Too many failed client authentications", body = serde_json::Value),
    )
)]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    client_info: ClientInfo,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result: Result<(), EndpointError> = async {
        let params = Params::from_form(&headers, &body)?;
        let client = authenticate(&state.oidc, &headers, &params, client_info.addr).await?;
        let token = params
            .get("token")?
            .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
        params.get("token_type_hint")?;
        let oidc = &state.oidc;
        let now = oidc.clock.now();
        // Either kind revokes the grant: everything issued from the same sign-in ends.
        let grant_id = match oidc.read_access_token(token).await? {
            Some(claims) if claims["client_id"].as_str() == Some(client.id.as_str()) => {
                claims["jti"]
                    .as_str()
                    .and_then(grant_of_jti)
                    .map(str::to_owned)
            }
            Some(_) => None,
            None => oidc
                .store
                .grant_of_refresh_token(&secret_hash(token), &client.id, now)
                .await?
                .map(|(grant_id, _, _)| grant_id),
        };
        if let Some(grant_id) = grant_id
            && oidc.store.revoke_grant(&grant_id, now).await?
        {
            state
                .accounts
                .audit(
                    "oidc_token_revoked",
                    None,
                    None,
                    Some(&client_info),
                    Some(&format!("client {}; grant {grant_id}", client.id)),
                )
                .await;
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => no_store(json!({})),
        Err(e) => e.into_response(),
    }
}
