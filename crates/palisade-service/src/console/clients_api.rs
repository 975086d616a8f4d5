//! The admin API for the OpenID provider's clients:
//!
//! - `GET /api/v1/admin/oidc/clients`
//! - `POST /api/v1/admin/oidc/clients` `{client: {…[[oidc.clients]]'s fields…}, code, …}`
//! - `POST /api/v1/admin/oidc/clients/{id}/rotate-secret`
//! - `DELETE /api/v1/admin/oidc/clients/{id}`
//!
//! A client decides who signs in to what, so every change needs an administrator's
//! session with a fresh second factor (as a change to who administers does).

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use axum_extra::extract::CookieJar;
use http::StatusCode;
use palisade::http::ClientInfo;
use palisade::secret::SecretString;
use serde::Deserialize;
use webauthn_rs::prelude::PublicKeyCredential;

use super::access::AdminSession;
use super::api::{actor, allowed, answered};
use crate::body::ApiJson;
use crate::error::AppError;
use crate::mfa::api::ChangeProofs;
use crate::oidc::ClientSettings;
use crate::state::AppState;
use crate::web::sensitive;

#[utoipa::path(get, path = "/api/v1/admin/oidc/clients", tag = "admin", operation_id = "admin_oidc_clients",
    responses((status = 200, body = serde_json::Value, description = "`clients`: each one's settings (never a secret), `source` and `has_secret`")))]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Response, AppError> {
    let clients: Vec<_> = state
        .console
        .clients(&state.oidc.clients)
        .await?
        .into_iter()
        .map(|c| {
            let mut value = serde_json::to_value(&c.settings).unwrap_or_default();
            value["source"] = c.source.into();
            value["has_secret"] = c.has_secret.into();
            value
        })
        .collect();
    Ok(sensitive(Json(serde_json::json!({ "clients": clients }))))
}

/// A new client and the proofs a change to the clients needs.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddClient {
    /// As an `[[oidc.clients]]` entry (see the book's OpenID chapter), without `secret_sha256`.
    #[schema(value_type = Object)]
    client: ClientSettings,
    #[schema(value_type = Option<String>)]
    password: Option<SecretString>,
    #[schema(value_type = Option<String>, pattern = "^[0-9]{6}$")]
    code: Option<SecretString>,
    #[schema(value_type = Option<String>)]
    recovery_code: Option<SecretString>,
    #[schema(value_type = Option<Object>)]
    passkey: Option<Box<PublicKeyCredential>>,
}

#[utoipa::path(post, path = "/api/v1/admin/oidc/clients", tag = "admin", operation_id = "admin_oidc_client_add",
    request_body = AddClient,
    responses((status = 201, body = serde_json::Value, description = "`client_id`, and `client_secret` (shown this once) for a confidential client without keys"),
        (status = 422, description = "the client's settings are refused; `detail` says why")))]
pub(crate) async fn add(
    State(state): State<AppState>,
    Extension(admin): Extension<AdminSession>,
    client: ClientInfo,
    jar: CookieJar,
    ApiJson(body): ApiJson<AddClient>,
) -> Result<Response, AppError> {
    let proofs = ChangeProofs {
        password: body.password,
        code: body.code,
        recovery_code: body.recovery_code,
        passkey: body.passkey,
    };
    let token = allowed(&state, &admin, &client, Some(ApiJson(proofs)), true).await?;
    let address = client.addr.to_string();
    let id = body.client.id.clone();
    let secret = state
        .console
        .add_client(&actor(&admin, &address), &state.oidc.clients, body.client)
        .await?;
    let jar = state
        .accounts
        .sessions
        .cookies
        .set_renewed(jar, token.as_ref());
    let mut answer = serde_json::json!({ "client_id": id });
    if let Some(secret) = secret {
        answer["client_secret"] = secret.expose(str::to_owned).into();
    }
    Ok(sensitive((StatusCode::CREATED, jar, Json(answer))))
}

#[utoipa::path(post, path = "/api/v1/admin/oidc/clients/{id}/rotate-secret", tag = "admin",
    operation_id = "admin_oidc_client_rotate_secret", request_body(content = Option<ChangeProofs>),
    params(("id" = String, Path, description = "the client's id")),
    responses((status = 200, body = serde_json::Value, description = "`client_secret`, shown this once; the old one no longer works"),
        (status = 422, description = "not a stored confidential client")))]
pub(crate) async fn rotate_secret(
    State(state): State<AppState>,
    Extension(admin): Extension<AdminSession>,
    client: ClientInfo,
    jar: CookieJar,
    Path(id): Path<String>,
    body: Option<ApiJson<ChangeProofs>>,
) -> Result<Response, AppError> {
    let token = allowed(&state, &admin, &client, body, true).await?;
    let address = client.addr.to_string();
    let secret = state
        .console
        .rotate_client_secret(&actor(&admin, &address), &state.oidc.clients, &id)
        .await?;
    let jar = state
        .accounts
        .sessions
        .cookies
        .set_renewed(jar, token.as_ref());
    let answer =
        serde_json::json!({ "client_id": id, "client_secret": secret.expose(str::to_owned) });
    Ok(sensitive((jar, Json(answer))))
}

#[utoipa::path(delete, path = "/api/v1/admin/oidc/clients/{id}", tag = "admin",
    operation_id = "admin_oidc_client_remove", request_body(content = Option<ChangeProofs>),
    params(("id" = String, Path, description = "the client's id")),
    responses((status = 200, body = super::api::Changed, description = "removed, with its grants and consents"),
        (status = 422, description = "not a stored client")))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Extension(admin): Extension<AdminSession>,
    client: ClientInfo,
    jar: CookieJar,
    Path(id): Path<String>,
    body: Option<ApiJson<ChangeProofs>>,
) -> Result<Response, AppError> {
    let token = allowed(&state, &admin, &client, body, true).await?;
    let address = client.addr.to_string();
    state
        .console
        .remove_client(&actor(&admin, &address), &state.oidc.clients, &id)
        .await?;
    Ok(answered(&state, jar, token, true, 0))
}

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/oidc/clients", get(list).post(add))
        .route("/oidc/clients/{id}/rotate-secret", post(rotate_secret))
        .route("/oidc/clients/{id}", axum::routing::delete(remove))
}
