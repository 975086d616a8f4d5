//! The admin API's actions on one account beyond its groups and status, and the groups'
//! list:
//!
//! - `POST /api/v1/admin/users/{username}/sessions/{id}/end`
//! - `DELETE /api/v1/admin/users/{username}/api-tokens/{name}`
//! - `POST /api/v1/admin/users/{username}/reset-second-factors`
//! - `POST /api/v1/admin/users/{username}/reset-link` (mailed to the owner, never shown)
//! - `POST /api/v1/admin/users/{username}/unlock`
//! - `POST /api/v1/admin/users/{username}/address` (`new_email`: a link goes there)
//! - `DELETE /api/v1/admin/users/{username}`
//! - `GET /api/v1/admin/groups`
//!
//! Each change needs what the others need (see `api.rs`); one to an administrator's
//! account, a fresh second factor as well.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use axum_extra::extract::CookieJar;
use palisade::http::ClientInfo;
use palisade::secret::SecretString;
use serde::Deserialize;
use webauthn_rs::prelude::PublicKeyCredential;

use super::access::AdminSession;
use super::api::{Changed, actor, allowed, answered};
use crate::body::ApiJson;
use crate::error::AppError;
use crate::mfa::api::ChangeProofs;
use crate::state::AppState;
use crate::web::sensitive;

/// What an action's body may carry: the proofs `ChangeProofs` names.
type Proofs = Option<ApiJson<ChangeProofs>>;

/// Checks what a change to `username` needs, then runs it; answers with the number it
/// returns as `sessions_ended` when `ends_sessions`.
async fn change<F, Fut>(
    state: &AppState,
    admin: &AdminSession,
    client: &ClientInfo,
    jar: CookieJar,
    username: &str,
    body: Proofs,
    act: F,
) -> Result<Response, AppError>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Result<(bool, u64), AppError>>,
{
    let rights = state
        .console
        .guarded_target(admin.user.id, username)
        .await?;
    let token = allowed(state, admin, client, body, rights).await?;
    let (changed, ended) = act(client.addr.to_string()).await?;
    Ok(answered(state, jar, token, changed, ended))
}

#[utoipa::path(post, path = "/api/v1/admin/users/{username}/sessions/{id}/end", tag = "admin", operation_id = "admin_end_session", request_body(content = Option<ChangeProofs>, description = "the password when its last entry is stale; `code`, `recovery_code` or `passkey` when the change concerns who administers or another administrator's account"),
    params(("username" = String, Path, description = "the user's username"), ("id" = String, Path, description = "the session's id")),
    responses((status = 200, body = Changed, description = "done (`changed`: whether anything changed)")))]
pub(crate) async fn end_session(
    State(state): State<AppState>,
    Extension(admin): Extension<AdminSession>,
    client: ClientInfo,
    jar: CookieJar,
    Path((username, id)): Path<(String, String)>,
    body: Proofs,
) -> Result<Response, AppError> {
    let (state, admin) = (&state, &admin);
    let name_ref = username.as_str();
    change(
        state,
        admin,
        &client,
        jar,
        name_ref,
        body,
        |address| async move {
            let actor = actor(admin, &address);
            let ended = state.console.end_session(&actor, name_ref, &id).await?;
            Ok((ended, u64::from(ended)))
        },
    )
    .await
}

#[utoipa::path(delete, path = "/api/v1/admin/users/{username}/api-tokens/{name}", tag = "admin", operation_id = "admin_revoke_token", request_body(content = Option<ChangeProofs>, description = "the password when its last entry is stale; `code`, `recovery_code` or `passkey` when the change concerns who administers or another administrator's account"),
    params(("username" = String, Path, description = "the user's username"), ("name" = String, Path, description = "the token's name")),
    responses((status = 200, body = Changed, description = "done (`changed`: whether anything changed)")))]
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    Extension(admin): Extension<AdminSession>,
    client: ClientInfo,
    jar: CookieJar,
    Path((username, name)): Path<(String, String)>,
    body: Proofs,
) -> Result<Response, AppError> {
    let (state, admin) = (&state, &admin);
    let name_ref = username.as_str();
    change(
        state,
        admin,
        &client,
        jar,
        name_ref,
        body,
        |address| async move {
            let actor = actor(admin, &address);
            let revoked = state.console.revoke_token(&actor, name_ref, &name).await?;
            Ok((revoked, 0))
        },
    )
    .await
}

#[utoipa::path(post, path = "/api/v1/admin/users/{username}/reset-second-factors", tag = "admin", operation_id = "admin_reset_second_factors", request_body(content = Option<ChangeProofs>, description = "the password when its last entry is stale; `code`, `recovery_code` or `passkey` when the change concerns who administers or another administrator's account"),
    params(("username" = String, Path, description = "the user's username")),
    responses((status = 200, body = Changed, description = "done (`changed`: whether anything changed)")))]
pub(crate) async fn reset_factors(
    State(state): State<AppState>,
    Extension(admin): Extension<AdminSession>,
    client: ClientInfo,
    jar: CookieJar,
    Path(username): Path<String>,
    body: Proofs,
) -> Result<Response, AppError> {
    let (state, admin) = (&state, &admin);
    let name_ref = username.as_str();
    change(
        state,
        admin,
        &client,
        jar,
        name_ref,
        body,
        |address| async move {
            let actor = actor(admin, &address);
            let removed = state.console.reset_factors(&actor, name_ref).await?;
            Ok((removed > 0, 0))
        },
    )
    .await
}

#[utoipa::path(post, path = "/api/v1/admin/users/{username}/reset-link", tag = "admin", operation_id = "admin_reset_link", request_body(content = Option<ChangeProofs>, description = "the password when its last entry is stale; `code`, `recovery_code` or `passkey` when the change concerns who administers or another administrator's account"),
    params(("username" = String, Path, description = "the user's username")),
    responses((status = 200, body = Changed, description = "done (`changed`: whether anything changed)"), (status = 409, description = "the account is disabled")))]
pub(crate) async fn reset_link(
    State(state): State<AppState>,
    Extension(admin): Extension<AdminSession>,
    client: ClientInfo,
    jar: CookieJar,
    Path(username): Path<String>,
    body: Proofs,
) -> Result<Response, AppError> {
    let (state, admin) = (&state, &admin);
    let name_ref = username.as_str();
    change(
        state,
        admin,
        &client,
        jar,
        name_ref,
        body,
        |address| async move {
            let actor = actor(admin, &address);
            state.console.mail_reset_link(&actor, name_ref).await?;
            Ok((true, 0))
        },
    )
    .await
}

#[utoipa::path(post, path = "/api/v1/admin/users/{username}/unlock", tag = "admin", operation_id = "admin_unlock", request_body(content = Option<ChangeProofs>, description = "the password when its last entry is stale; `code`, `recovery_code` or `passkey` when the change concerns who administers or another administrator's account"),
    params(("username" = String, Path, description = "the user's username")),
    responses((status = 200, body = Changed, description = "done (`changed`: whether anything changed)")))]
pub(crate) async fn unlock(
    State(state): State<AppState>,
    Extension(admin): Extension<AdminSession>,
    client: ClientInfo,
    jar: CookieJar,
    Path(username): Path<String>,
    body: Proofs,
) -> Result<Response, AppError> {
    let (state, admin) = (&state, &admin);
    let name_ref = username.as_str();
    change(
        state,
        admin,
        &client,
        jar,
        name_ref,
        body,
        |address| async move {
            let actor = actor(admin, &address);
            state.console.unlock(&actor, name_ref).await?;
            Ok((true, 0))
        },
    )
    .await
}

/// A new address for an account, and the proofs a change needs.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddressRequest {
    /// The account's next address: a link goes there, and the address changes when it is
    /// opened.
    #[schema(format = "email", max_length = 254)]
    new_email: String,
    #[schema(value_type = Option<String>)]
    password: Option<SecretString>,
    #[schema(value_type = Option<String>, pattern = "^[0-9]{6}$")]
    code: Option<SecretString>,
    #[schema(value_type = Option<String>)]
    recovery_code: Option<SecretString>,
    #[schema(value_type = Option<Object>)]
    passkey: Option<Box<PublicKeyCredential>>,
}

#[utoipa::path(post, path = "/api/v1/admin/users/{username}/address", tag = "admin", operation_id = "admin_change_address", request_body = AddressRequest,
    params(("username" = String, Path, description = "the user's username")),
    responses((status = 200, body = Changed, description = "done (`changed`: whether anything changed)"), (status = 422, description = "the new address is invalid, or the current one")))]
pub(crate) async fn change_address(
    State(state): State<AppState>,
    Extension(admin): Extension<AdminSession>,
    client: ClientInfo,
    jar: CookieJar,
    Path(username): Path<String>,
    ApiJson(body): ApiJson<AddressRequest>,
) -> Result<Response, AppError> {
    let proofs = ChangeProofs {
        password: body.password,
        code: body.code,
        recovery_code: body.recovery_code,
        passkey: body.passkey,
    };
    let new_email = body.new_email;
    let proofs = Some(ApiJson(proofs));
    let (state, admin) = (&state, &admin);
    let name_ref = username.as_str();
    let new_email = new_email.as_str();
    change(
        state,
        admin,
        &client,
        jar,
        name_ref,
        proofs,
        |address| async move {
            let actor = actor(admin, &address);
            state
                .console
                .change_address(&actor, &state.accounts, name_ref, new_email)
                .await?;
            Ok((true, 0))
        },
    )
    .await
}

#[utoipa::path(delete, path = "/api/v1/admin/users/{username}", tag = "admin", operation_id = "admin_delete_user", request_body(content = Option<ChangeProofs>, description = "the password when its last entry is stale; `code`, `recovery_code` or `passkey` when the change concerns who administers or another administrator's account"),
    params(("username" = String, Path, description = "the user's username")),
    responses((status = 200, body = Changed, description = "done (`changed`: whether anything changed)"), (status = 409, description = "refused by a rule (nobody deletes themselves here)")))]
pub(crate) async fn delete_user(
    State(state): State<AppState>,
    Extension(admin): Extension<AdminSession>,
    client: ClientInfo,
    jar: CookieJar,
    Path(username): Path<String>,
    body: Proofs,
) -> Result<Response, AppError> {
    let (state, admin) = (&state, &admin);
    let name_ref = username.as_str();
    change(
        state,
        admin,
        &client,
        jar,
        name_ref,
        body,
        |address| async move {
            let actor = actor(admin, &address);
            let deleted = state
                .console
                .delete_user(&actor, &state.account_data, name_ref)
                .await?;
            Ok((deleted, 0))
        },
    )
    .await
}

#[utoipa::path(get, path = "/api/v1/admin/groups", tag = "admin", operation_id = "admin_groups",
    responses((status = 200, body = serde_json::Value, description = "`groups`: each name and its number of members")))]
pub(crate) async fn groups(State(state): State<AppState>) -> Result<Response, AppError> {
    let groups: Vec<_> = state
        .console
        .groups()
        .await?
        .into_iter()
        .map(|(name, members)| serde_json::json!({ "name": name, "members": members }))
        .collect();
    Ok(sensitive(Json(serde_json::json!({ "groups": groups }))))
}

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/groups", get(groups))
        .route("/users/{username}", delete(delete_user))
        .route("/users/{username}/sessions/{id}/end", post(end_session))
        .route("/users/{username}/api-tokens/{name}", delete(revoke_token))
        .route(
            "/users/{username}/reset-second-factors",
            post(reset_factors),
        )
        .route("/users/{username}/reset-link", post(reset_link))
        .route("/users/{username}/unlock", post(unlock))
        .route("/users/{username}/address", post(change_address))
}
