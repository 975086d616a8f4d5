//! `GET /api/v1/account/export` (everything held about the caller, as JSON) and
//! `DELETE /api/v1/account` (the caller's account, with their password and, when they have
//! one, a second factor).

use axum::extract::State;
use axum::response::Response;
use axum::routing::{delete, get};
use axum::{Json, Router};
use axum_extra::extract::CookieJar;
use http::{HeaderValue, StatusCode, header};
use palisade::http::ClientInfo;

use super::DeletedBy;
use crate::body::ApiJson;
use crate::error::AppError;
use crate::mfa::api::{ChangeProofs, proofs};
use crate::sessions::SignedIn;
use crate::state::AppState;
use crate::web::sensitive;

/// The export, as a download named for the account.
pub(crate) async fn export_response(
    state: &AppState,
    user: &crate::store::UserRow,
) -> Result<Response, AppError> {
    let export = state.account_data.export(user).await?;
    let mut response = sensitive(Json(export));
    let name = format!("attachment; filename=\"{}-data.json\"", user.username);
    if let Ok(value) = HeaderValue::from_str(&name) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

#[utoipa::path(get, path = "/api/v1/account/export",
    responses((status = 200, description = "Everything palisade holds about the account (no secret, no hash)"), (status = 401)))]
pub(crate) async fn export(
    State(state): State<AppState>,
    SignedIn(auth): SignedIn,
) -> Result<Response, AppError> {
    export_response(&state, &auth.user).await
}

#[utoipa::path(delete, path = "/api/v1/account", request_body = ChangeProofs,
    responses((status = 204, description = "The account is gone; its sessions with it"),
    (status = 400), (status = 401), (status = 403, description = "The password or the second factor is missing or wrong"),
    (status = 409, description = "The last administrator: another must be made first"),
    (status = 422, description = "A code or recovery code that is not well-formed; `field` names it")))]
pub(crate) async fn delete_account(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    SignedIn(auth): SignedIn,
    body: Option<ApiJson<ChangeProofs>>,
) -> Result<Response, AppError> {
    let (password, proof) = proofs(body.map(|ApiJson(b)| b).unwrap_or_default())?;
    state
        .mfa
        .prove_owner(
            &state.accounts,
            &state.keyring,
            &auth,
            password,
            proof,
            &client,
        )
        .await?;
    state
        .account_data
        .delete(&auth.user, DeletedBy::Owner, &client.addr.to_string())
        .await?;
    let mut response = sensitive((
        state.accounts.sessions.cookies.clear(jar),
        StatusCode::NO_CONTENT,
    ));
    response.headers_mut().insert(
        "clear-site-data",
        HeaderValue::from_static("\"cache\", \"cookies\", \"storage\""),
    );
    Ok(response)
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/account/export", get(export))
        .route("/api/v1/account", delete(delete_account))
}
