//! The vault API: each user's named secrets, sealed before they reach the database.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::CookieJar;
use http::StatusCode;
use palisade::http::{ClientInfo, Sensitive};
use palisade::secret::{FernetError, SecretString, sealed_key_id};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::{IssuedToken, now};
use crate::body::ApiJson;
use crate::error::AppError;
use crate::state::{AppState, Auth};
use crate::web::session_cookie;

/// Largest secret value, in bytes.
const MAX_VALUE_BYTES: usize = 16 * 1024;

/// A secret's name: 1 to 64 of `A-Z a-z 0-9 . _ -`.
fn check_name(name: &str) -> Result<(), AppError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(AppError::Body {
            field: Some("name".into()),
            status: StatusCode::UNPROCESSABLE_ENTITY,
        })
    }
}

/// The associated data binding a sealed value to its owner and name.
pub(crate) fn aad(owner: i64, name: &str) -> Vec<u8> {
    format!("palisade-vault\0{owner}\0{name}").into_bytes()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PutSecret {
    value: String,
}

impl std::fmt::Debug for PutSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PutSecret { value: [redacted] }")
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevealRequest {
    /// Needed when the last password entry is older than the re-authentication window.
    password: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SecretListItem {
    name: String,
    updated_at: i64,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Revealed {
    name: String,
    value: String,
    /// Present when the password was re-entered: this session's new token.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

fn sensitive(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    response.extensions_mut().insert(Sensitive);
    response
}

#[utoipa::path(get, path = "/api/v1/secrets", responses((status = 200, body = [SecretListItem]), (status = 401)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(auth): Auth,
) -> Result<Response, AppError> {
    let names = state.accounts.store.secret_names(auth.user.id).await?;
    Ok(sensitive(Json(
        names
            .into_iter()
            .map(|(name, updated_at)| SecretListItem { name, updated_at })
            .collect::<Vec<_>>(),
    )))
}

#[utoipa::path(put, path = "/api/v1/secrets/{name}", request_body = PutSecret, params(("name" = String, Path)),
    responses((status = 204, description = "stored (created or replaced)"), (status = 401), (status = 422)))]
pub(crate) async fn put(
    State(state): State<AppState>,
    client: ClientInfo,
    Auth(auth): Auth,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<PutSecret>,
) -> Result<Response, AppError> {
    check_name(&name)?;
    let value = SecretString::new(body.value);
    if value.len() > MAX_VALUE_BYTES {
        return Err(AppError::Body {
            field: Some("value".into()),
            status: StatusCode::UNPROCESSABLE_ENTITY,
        });
    }
    let sealed = value
        .expose(|v| state.keyring.seal(v.as_bytes(), &aad(auth.user.id, &name)))
        .map_err(|e| AppError::Internal(format!("sealing: {e}")))?;
    let key_id = sealed_key_id(&sealed).unwrap_or_default().to_owned();
    state
        .accounts
        .store
        .put_secret(auth.user.id, &name, &sealed, &key_id, now())
        .await?;
    state
        .accounts
        .audit(
            "secret_stored",
            Some(auth.user.id),
            Some(&auth.user.username),
            Some(&client),
            Some(&name),
        )
        .await;
    Ok(sensitive(StatusCode::NO_CONTENT))
}

#[utoipa::path(post, path = "/api/v1/secrets/{name}/reveal", request_body(content = RevealRequest, description = "optional"), params(("name" = String, Path)),
    responses((status = 200, body = Revealed), (status = 403, description = "password re-entry required"), (status = 404)))]
pub(crate) async fn reveal(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    Auth(auth): Auth,
    Path(name): Path<String>,
    body: Option<ApiJson<RevealRequest>>,
) -> Result<Response, AppError> {
    check_name(&name)?;
    let password = body.and_then(|ApiJson(b)| b.password);
    let reissued = state
        .accounts
        .require_recent_password(&auth, password)
        .await?;
    let sealed = state
        .accounts
        .store
        .secret(auth.user.id, &name)
        .await?
        .ok_or(AppError::NotFound)?;
    let value = match state.keyring.open(&sealed, &aad(auth.user.id, &name)) {
        Ok(v) => v,
        Err(e) => {
            // A damaged or moved row, or a retired key: report it, never return garbage.
            let detail = match &e {
                FernetError::UnknownKey(id) => {
                    format!("{name}: sealed with key {id}, which is not loaded")
                }
                _ => format!("{name}: does not open (tampered with or moved)"),
            };
            state
                .accounts
                .audit(
                    "secret_unreadable",
                    Some(auth.user.id),
                    Some(&auth.user.username),
                    Some(&client),
                    Some(&detail),
                )
                .await;
            return Err(AppError::Internal(format!("vault: {detail}")));
        }
    };
    let value = SecretString::from_utf8(value)
        .ok_or_else(|| AppError::Internal("vault: value is not UTF-8".into()))?;
    state
        .accounts
        .audit(
            "secret_revealed",
            Some(auth.user.id),
            Some(&auth.user.username),
            Some(&client),
            Some(&name),
        )
        .await;
    let token = reissued.map(|IssuedToken(t)| t);
    let jar = match &token {
        Some(t) => jar.add(session_cookie(t.clone())),
        None => jar,
    };
    Ok(sensitive((
        jar,
        value.expose(|v| {
            Json(Revealed {
                name,
                value: v.to_owned(),
                token,
            })
        }),
    )))
}

#[utoipa::path(delete, path = "/api/v1/secrets/{name}", params(("name" = String, Path)), responses((status = 204), (status = 404)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    client: ClientInfo,
    Auth(auth): Auth,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    check_name(&name)?;
    if !state
        .accounts
        .store
        .delete_secret(auth.user.id, &name)
        .await?
    {
        return Err(AppError::NotFound);
    }
    state
        .accounts
        .audit(
            "secret_deleted",
            Some(auth.user.id),
            Some(&auth.user.username),
            Some(&client),
            Some(&name),
        )
        .await;
    Ok(sensitive(StatusCode::NO_CONTENT))
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/secrets", get(list))
        .route(
            "/api/v1/secrets/{name}",
            axum::routing::put(put).delete(delete),
        )
        .route("/api/v1/secrets/{name}/reveal", post(reveal))
}
