//! The token endpoint: `authorization_code` (the code spent once, bound to its client,
//! redirect URI, PKCE challenge and nonce; a second use revokes every token issued from
//! the first, RFC 6749 §10.5), `refresh_token` (rotated at each use; a spent one presented
//! again revokes its whole family) and `client_credentials`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderValue, header};
use palisade::http::ClientInfo;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::client_auth::{Params, authenticate};
use super::error::{EndpointError, OAuthError};
use super::tokens::{TokenResponse, has_scope, scopes};
use super::{Client, secret_hash};
use crate::state::AppState;
use crate::store::{NewRefresh, RefreshUse, Spent};

#[utoipa::path(
    post,
    path = "/oauth2/token",
    tag = "openid",
    operation_id = "oidc_token",
    request_body(content = super::api::TokenForm, content_type = "application/x-www-form-urlencoded", description = "grant_type and the grant's parameters (RFC 6749 §4), with the client's authentication"),
    responses(
        (status = 200, description = "Tokens", body = serde_json::Value),
        (status = 400, description = "invalid_request, invalid_grant, unsupported_grant_type, invalid_scope, unauthorized_client", body = serde_json::Value),
        (status = 401, description = "invalid_client", body = serde_json::Value),
        (status = 429, description = "Too many failed client authentications", body = serde_json::Value),
    )
)]
pub(crate) async fn token(
    State(state): State<AppState>,
    client_info: ClientInfo,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match grant(&state, &client_info, &headers, &body).await {
        Ok(tokens) => {
            let mut response = Json(tokens).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
        Err(e) => e.into_response(),
    }
}

async fn grant(
    state: &AppState,
    client_info: &ClientInfo,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<TokenResponse, EndpointError> {
    let params = Params::from_form(headers, body)?;
    let oidc = &state.oidc;
    let client = authenticate(oidc, headers, &params, client_info.addr).await?;
    match params.get("grant_type")? {
        Some("authorization_code") if client.code_grant => {
            authorization_code(state, client_info, &client, &params).await
        }
        Some("refresh_token") if client.refresh_grant => {
            refresh(state, client_info, &client, &params).await
        }
        Some("client_credentials") if client.client_credentials_grant => {
            let asked = params.get("scope")?.unwrap_or("");
            for s in scopes(asked) {
                if s == "openid" || s == "offline_access" || !client.scopes.iter().any(|c| c == s) {
                    return Err(OAuthError::new(
                        "invalid_scope",
                        format!("the scope {s:?} is not available to this client's own tokens"),
                    )
                    .into());
                }
            }
            let scope = scopes(asked).collect::<Vec<_>>().join(" ");
            Ok(oidc.issue_for_client(&client, &scope).await?)
        }
        Some("authorization_code" | "refresh_token" | "client_credentials") => {
            Err(OAuthError::new(
                "unauthorized_client",
                "this client may not use this grant type",
            )
            .into())
        }
        Some(other) => Err(OAuthError::new(
            "unsupported_grant_type",
            format!("grant_type {other:?} is not supported"),
        )
        .into()),
        None => Err(OAuthError::invalid_request("grant_type is missing").into()),
    }
}

/// Whether `verifier` is the PKCE verifier of the S256 `challenge` (RFC 7636 §4.6).
fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    well_formed && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

async fn authorization_code(
    state: &AppState,
    client_info: &ClientInfo,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, EndpointError> {
    let oidc = &state.oidc;
    let code = params
        .get("code")?
        .ok_or_else(|| OAuthError::invalid_request("code is missing"))?;
    let redirect_uri = params.get("redirect_uri")?;
    let verifier = params.get("code_verifier")?;
    let code_hash = secret_hash(code);
    let now = oidc.clock.now();
    let invalid = || {
        OAuthError::invalid_grant(
            "the code is not valid (unknown, expired, used, or not this client's)",
        )
    };
    let Some(row) = oidc.store.code_of_client(&code_hash, &client.id).await? else {
        return Err(invalid().into());
    };
    if row.used_at.is_some() {
        replayed(
            state,
            client_info,
            client,
            &row.grant_id,
            "oidc_code_replayed",
        )
        .await?;
        return Err(invalid().into());
    }
    if row.expires_at <= now {
        return Err(invalid().into());
    }
    if redirect_uri != Some(row.redirect_uri.as_str()) {
        return Err(
            OAuthError::invalid_grant("redirect_uri is not the one the code was sent to").into(),
        );
    }
    match (&row.code_challenge, verifier) {
        (Some(challenge), Some(verifier)) if pkce_matches(verifier, challenge) => {}
        (None, None) => {}
        (Some(_), _) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier does not match the code's challenge",
            )
            .into());
        }
        // A verifier for a code issued without a challenge: a downgrade (RFC 9700 §2.1.1).
        (None, Some(_)) => {
            return Err(
                OAuthError::invalid_grant("the code was issued without a PKCE challenge").into(),
            );
        }
    }
    let (refresh_token, refresh_hash) = new_refresh(client)?;
    let refresh = refresh_hash.as_deref().map(|token_hash| NewRefresh {
        token_hash,
        expires_at: now + client.refresh_token_secs,
    });
    let spent = oidc
        .store
        .spend_code(
            &code_hash,
            &row.grant_id,
            now,
            oidc.idle_cutoff(now),
            refresh,
        )
        .await?;
    let (grant, user) = match spent {
        Spent::Issued(found) => *found,
        Spent::Ended => return Err(ended().into()),
        Spent::Lost => {
            // Spent by a request in flight with this one: the same as a replay.
            replayed(
                state,
                client_info,
                client,
                &row.grant_id,
                "oidc_code_replayed",
            )
            .await?;
            return Err(invalid().into());
        }
    };
    Ok(oidc
        .issue_for_grant(client, &grant, &user, row.nonce.as_deref(), refresh_token)
        .await?)
}

fn ended() -> OAuthError {
    OAuthError::invalid_grant("the sign-in this grant came from has ended")
}

/// A new refresh token and its hash, when the client may refresh.
fn new_refresh(client: &Client) -> Result<(Option<String>, Option<String>), EndpointError> {
    if !client.refresh_grant {
        return Ok((None, None));
    }
    let token = super::random_secret()?;
    let hash = secret_hash(&token);
    Ok((Some(token), Some(hash)))
}

/// A spent code or refresh token presented again: everything issued from its grant is
/// revoked, and the audit log says so.
async fn replayed(
    state: &AppState,
    client_info: &ClientInfo,
    client: &Client,
    grant_id: &str,
    event: &str,
) -> Result<(), EndpointError> {
    let oidc = &state.oidc;
    if oidc.store.revoke_grant(grant_id, oidc.clock.now()).await? {
        audit_revoked(state, client_info, client, grant_id, event).await;
    }
    Ok(())
}

/// The audit event of a family revoked for a replay (once: by the request that revoked it).
async fn audit_revoked(
    state: &AppState,
    client_info: &ClientInfo,
    client: &Client,
    grant_id: &str,
    event: &str,
) {
    let detail = format!("client {}; grant {grant_id} revoked", client.id);
    state
        .accounts
        .audit(event, None, None, Some(client_info), Some(&detail))
        .await;
}

async fn refresh(
    state: &AppState,
    client_info: &ClientInfo,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, EndpointError> {
    let oidc = &state.oidc;
    let token = params
        .get("refresh_token")?
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?;
    let asked = params.get("scope")?;
    let now = oidc.clock.now();
    let invalid = || {
        OAuthError::invalid_grant(
            "the refresh token is not valid (unknown, expired, used, revoked, or not this client's)",
        )
    };
    let token_hash = secret_hash(token);
    if let Some(asked) = asked {
        // A narrower scope may be asked for; a wider one is refused before anything is spent.
        let granted = oidc
            .store
            .grant_of_refresh_token(&token_hash, &client.id, now)
            .await?;
        if let Some((grant_id, _, _)) = granted
            && let Some(grant) = oidc
                .store
                .live_grant(&grant_id, now, oidc.idle_cutoff(now))
                .await?
            && let Some(s) = scopes(asked).find(|s| !has_scope(&grant.scope, s))
        {
            return Err(OAuthError::new(
                "invalid_scope",
                format!("the scope {s:?} was not granted"),
            )
            .into());
        }
    }
    let (refresh_token, refresh_hash) = new_refresh(client)?;
    let refresh = NewRefresh {
        token_hash: refresh_hash.as_deref().unwrap_or_default(),
        expires_at: now + client.refresh_token_secs,
    };
    let used = oidc
        .store
        .use_refresh_token(&token_hash, &client.id, now, oidc.idle_cutoff(now), refresh)
        .await?;
    let (mut grant, user) = match used {
        RefreshUse::Rotated(Spent::Issued(found)) => *found,
        RefreshUse::Rotated(_) => return Err(ended().into()),
        RefreshUse::Reused {
            grant_id,
            revoked_now,
        } => {
            if revoked_now {
                audit_revoked(state, client_info, client, &grant_id, "oidc_refresh_reused").await;
            }
            return Err(invalid().into());
        }
        RefreshUse::Invalid => return Err(invalid().into()),
    };
    if let Some(asked) = asked {
        // This answer's tokens carry the narrower scope; the grant keeps its own.
        grant.scope = scopes(asked)
            .filter(|s| has_scope(&grant.scope, s))
            .collect::<Vec<_>>()
            .join(" ");
    }
    if grant.offline == 0 && grant.session_seen_at.is_some_and(|seen| seen <= now - 60) {
        // The user is active in the app: so is their session.
        oidc.store
            .touch_grant_session(&grant.session_id, now)
            .await?;
    }
    Ok(oidc
        .issue_for_grant(client, &grant, &user, None, refresh_token)
        .await?)
}

#[cfg(test)]
mod tests {
    /// RFC 7636 appendix B's example.
    #[test]
    fn pkce_s256_matches_the_rfc_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(super::pkce_matches(verifier, challenge));
        assert!(!super::pkce_matches(&verifier.replace('d', "e"), challenge));
        assert!(!super::pkce_matches(challenge, challenge));
        assert!(!super::pkce_matches("short", challenge));
    }
}
