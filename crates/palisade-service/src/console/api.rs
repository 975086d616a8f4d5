//! `/api/v1/admin/…`: the admin API. Every route sits behind [`super::admins_only`]; a
//! change also needs a password entry within `reauth_minutes` (the body's `password`
//! otherwise), and a change to who administers — or to an administrator's account — needs
//! a fresh second factor (`code`, `recovery_code` or `passkey`) as well.
//!
//! - `GET /api/v1/admin/users?q=&disabled=&unconfirmed=&no_second_factor=&throttled=&group=&after=&limit=`
//! - `GET /api/v1/admin/users/{username}`
//! - `POST /api/v1/admin/users/{username}/end-sessions`, `…/disable`, `…/enable`
//! - `PUT` and `DELETE /api/v1/admin/users/{username}/groups/{group}`
//! - the rest of what is done to one account, and `GET /api/v1/admin/groups`: `account_api.rs`
//! - the OpenID provider's clients: `clients_api.rs`
//! - `GET /api/v1/admin/audit?user=&event=&client=&since=&until=&before=&limit=`
//! - `GET /api/v1/admin/audit/export?format=jsonl|csv&…` (the same filters; streamed)

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use axum_extra::extract::CookieJar;
use palisade::http::ClientInfo;
use serde::{Deserialize, Serialize};

use super::access::AdminSession;
use super::{Actor, PAGE_MAX};
use crate::body::{ApiJson, ApiQuery};
use crate::error::AppError;
use crate::mfa::api::{ChangeProofs, proofs};
use crate::sessions::IssuedToken;
use crate::state::AppState;
use crate::store::UserQuery;
use crate::web::sensitive;

/// The user search's parameters; each at most once, no others.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchParams {
    /// Matched at the start of the username, the address or the display name, whatever
    /// the case.
    #[serde(default)]
    q: String,
    #[serde(default)]
    disabled: bool,
    /// Only users whose address is not confirmed.
    #[serde(default)]
    unconfirmed: bool,
    /// Only users without a second factor.
    #[serde(default)]
    no_second_factor: bool,
    /// Only members of this group.
    group: Option<String>,
    /// Only users with failed sign-ins counted against their account.
    #[serde(default)]
    throttled: bool,
    /// The `next` of the previous page.
    #[serde(default)]
    after: String,
    limit: Option<i64>,
}

/// One user in the search.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct UserLine {
    username: String,
    email: String,
    display_name: Option<String>,
    disabled: bool,
    email_confirmed: bool,
    second_factor: bool,
    created_at: i64,
}

/// A page of the search; `next` is there when there may be more.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct UsersPage {
    users: Vec<UserLine>,
    next: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", operation_id = "admin_search_users",
    params(("q" = Option<String>, Query, description = "matched, whatever the case, at the start of the username, the address or the display name (at most 128 characters)"), ("disabled" = Option<bool>, Query), ("unconfirmed" = Option<bool>, Query), ("no_second_factor" = Option<bool>, Query), ("group" = Option<String>, Query), ("throttled" = Option<bool>, Query), ("after" = Option<String>, Query, description = "the `next` of the previous page"), ("limit" = Option<i64>, Query, description = "1 to 100 (50)")),
    responses((status = 200, body = UsersPage), (status = 400, description = "a parameter is unknown, repeated or invalid; `field` names it")))]
pub(crate) async fn search(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Response, AppError> {
    if params.q.chars().count() > 128 {
        return Err(too_long("q"));
    }
    if let Some(group) = &params.group
        && !crate::authz::is_group_name(group)
    {
        return Err(AppError::Body {
            field: Some("group".into()),
            status: http::StatusCode::BAD_REQUEST,
        });
    }
    let limit = params.limit.unwrap_or(50);
    if !(1..=PAGE_MAX).contains(&limit) {
        return Err(AppError::Body {
            field: Some("limit".into()),
            status: http::StatusCode::BAD_REQUEST,
        });
    }
    let rows = state
        .console
        .search(UserQuery {
            prefix: params.q,
            disabled_only: params.disabled,
            unconfirmed_only: params.unconfirmed,
            without_second_factor_only: params.no_second_factor,
            in_group: params.group,
            throttled_only: params.throttled,
            after: params.after,
            limit,
        })
        .await?;
    let next = (rows.len() as i64 == limit).then(|| rows[rows.len() - 1].username.clone());
    let users = rows
        .into_iter()
        .map(|u| UserLine {
            username: u.username,
            email: u.email,
            display_name: u.display_name,
            disabled: u.disabled != 0,
            email_confirmed: u.email_verified_at.is_some(),
            second_factor: u.has_second_factor != 0,
            created_at: u.created_at,
        })
        .collect();
    Ok(sensitive(Json(UsersPage { users, next })))
}

fn too_long(field: &str) -> AppError {
    AppError::Body {
        field: Some(field.into()),
        status: http::StatusCode::BAD_REQUEST,
    }
}

#[utoipa::path(get, path = "/api/v1/admin/users/{username}", tag = "admin", operation_id = "admin_user",
    params(("username" = String, Path, description = "the user's username")),
    responses((status = 200, body = serde_json::Value, description = "the user: profile, groups, sessions, second factors' and API tokens' names and dates, the latest audit events; no secret")))]
pub(crate) async fn user(
    State(state): State<AppState>,
    Path(username): Path<String>,
) -> Result<Response, AppError> {
    let detail = state.console.user(&username).await?;
    let u = &detail.user;
    let body = serde_json::json!({
        "username": u.username,
        "email": u.email,
        "display_name": u.display_name,
        "disabled": u.disabled != 0,
        "email_confirmed": u.email_verified_at.is_some(),
        "created_at": u.created_at,
        "groups": detail.groups,
        "failed_sign_ins": detail.failed_sign_ins,
        "last_failed_sign_in_at": detail.last_failed_sign_in_at,
        "sessions": detail.sessions.iter().map(|s| serde_json::json!({
            "id": s.id, "created_at": s.created_at, "last_seen_at": s.last_seen_at,
            "client_addr": s.client_addr, "browser": crate::web::describe_browser(&s.user_agent),
            "second_factor": s.second_factor != 0,
        })).collect::<Vec<_>>(),
        "second_factors": detail.factors.iter().map(|(kind, name, added, used)| serde_json::json!({
            "kind": kind, "name": name, "added_at": added, "last_used_at": used,
        })).collect::<Vec<_>>(),
        "api_tokens": detail.tokens.iter().map(|(name, created, expires, used)| serde_json::json!({
            "name": name, "created_at": created, "expires_at": expires, "last_used_at": used,
        })).collect::<Vec<_>>(),
        "audit": detail.audit.iter().map(|e| serde_json::json!({
            "at": e.at, "event": e.event, "client_addr": e.client_addr, "detail": e.detail,
        })).collect::<Vec<_>>(),
    });
    Ok(sensitive(Json(body)))
}

/// What a change answers: how many sessions it ended, and the administrator's renewed
/// session token when their password was entered again.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Changed {
    changed: bool,
    sessions_ended: u64,
    /// Present when the password was entered again: this session's new token.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    token: Option<IssuedToken>,
}

/// A change needs a recent password entry; one to who administers (or to another
/// administrator's account), a second factor too. An admin-scoped API token is its own
/// proof for the first kind and may not make the second.
pub(super) async fn allowed(
    state: &AppState,
    admin: &AdminSession,
    client: &ClientInfo,
    body: Option<ApiJson<ChangeProofs>>,
    admin_rights: bool,
) -> Result<Option<IssuedToken>, AppError> {
    let (password, proof) = proofs(body.map(|ApiJson(b)| b).unwrap_or_default())?;
    let Some(auth) = &admin.session else {
        return if admin_rights {
            Err(AppError::AdminOnly(
                "Changes to who administers, or to an administrator's account, need an administrator's session and a fresh second factor, not an API token.",
            ))
        } else {
            Ok(None)
        };
    };
    if admin_rights {
        state
            .mfa
            .guard(
                &state.accounts,
                &state.keyring,
                auth,
                password,
                proof,
                client,
            )
            .await
    } else {
        state.accounts.require_recent_password(auth, password).await
    }
}

pub(super) fn answered(
    state: &AppState,
    jar: CookieJar,
    token: Option<IssuedToken>,
    changed: bool,
    sessions_ended: u64,
) -> Response {
    let jar = state
        .accounts
        .sessions
        .cookies
        .set_renewed(jar, token.as_ref());
    sensitive((
        jar,
        Json(Changed {
            changed,
            sessions_ended,
            token,
        }),
    ))
}

pub(super) fn actor<'a>(admin: &'a AdminSession, client: &'a str) -> Actor<'a> {
    Actor::of(&admin.user, client)
}

#[utoipa::path(post, path = "/api/v1/admin/users/{username}/end-sessions", tag = "admin", operation_id = "admin_end_sessions", request_body(content = Option<ChangeProofs>, description = "the password when its last entry is stale; `code`, `recovery_code` or `passkey` when the change concerns who administers or another administrator's account"),
    params(("username" = String, Path, description = "the user's username")),
    responses((status = 200, body = Changed, description = "done (`changed`: whether anything changed)"), (status = 409, description = "refused by a rule (nobody disables themselves)")))]
pub(crate) async fn end_sessions(
    State(state): State<AppState>,
    Extension(admin): Extension<AdminSession>,
    client: ClientInfo,
    jar: CookieJar,
    Path(username): Path<String>,
    body: Option<ApiJson<ChangeProofs>>,
) -> Result<Response, AppError> {
    let rights = state
        .console
        .guarded_target(admin.user.id, &username)
        .await?;
    let token = allowed(&state, &admin, &client, body, rights).await?;
    let address = client.addr.to_string();
    let ended = state
        .console
        .end_sessions(&actor(&admin, &address), &username)
        .await?;
    Ok(answered(&state, jar, token, ended > 0, ended))
}

async fn set_disabled(
    state: AppState,
    admin: AdminSession,
    client: ClientInfo,
    jar: CookieJar,
    username: String,
    body: Option<ApiJson<ChangeProofs>>,
    disabled: bool,
) -> Result<Response, AppError> {
    let rights = state
        .console
        .guarded_target(admin.user.id, &username)
        .await?;
    let token = allowed(&state, &admin, &client, body, rights).await?;
    let address = client.addr.to_string();
    let ended = state
        .console
        .set_disabled(&actor(&admin, &address), &username, disabled)
        .await?;
    Ok(answered(&state, jar, token, true, ended))
}

#[utoipa::path(post, path = "/api/v1/admin/users/{username}/disable", tag = "admin", operation_id = "admin_disable", request_body(content = Option<ChangeProofs>, description = "the password when its last entry is stale; `code`, `recovery_code` or `passkey` when the change concerns who administers or another administrator's account"),
    params(("username" = String, Path, description = "the user's username")),
    responses((status = 200, body = Changed, description = "done (`changed`: whether anything changed)"), (status = 409, description = "refused by a rule (nobody disables themselves)")))]
pub(crate) async fn disable(
    State(state): State<AppState>,
    Extension(admin): Extension<AdminSession>,
    client: ClientInfo,
    jar: CookieJar,
    Path(username): Path<String>,
    body: Option<ApiJson<ChangeProofs>>,
) -> Result<Response, AppError> {
    set_disabled(state, admin, client, jar, username, body, true).await
}

#[utoipa::path(post, path = "/api/v1/admin/users/{username}/enable", tag = "admin", operation_id = "admin_enable", request_body(content = Option<ChangeProofs>, description = "the password when its last entry is stale; `code`, `recovery_code` or `passkey` when the change concerns who administers or another administrator's account"),
    params(("username" = String, Path, description = "the user's username")),
    responses((status = 200, body = Changed, description = "done (`changed`: whether anything changed)"), (status = 409, description = "refused by a rule (nobody disables themselves)")))]
pub(crate) async fn enable(
    State(state): State<AppState>,
    Extension(admin): Extension<AdminSession>,
    client: ClientInfo,
    jar: CookieJar,
    Path(username): Path<String>,
    body: Option<ApiJson<ChangeProofs>>,
) -> Result<Response, AppError> {
    set_disabled(state, admin, client, jar, username, body, false).await
}

#[utoipa::path(put, path = "/api/v1/admin/users/{username}/groups/{group}", tag = "admin", operation_id = "admin_group_add", request_body(content = Option<ChangeProofs>, description = "the password when its last entry is stale; `code`, `recovery_code` or `passkey` when the change concerns who administers or another administrator's account"),
    params(("username" = String, Path, description = "the user's username"), ("group" = String, Path, description = "1 to 64 lowercase letters, digits, '-', '_' or '.'")),
    responses((status = 200, body = Changed, description = "done (`changed`: whether anything changed)"), (status = 422, description = "the group name is invalid")))]
pub(crate) async fn group_add(
    State(state): State<AppState>,
    Extension(admin): Extension<AdminSession>,
    client: ClientInfo,
    jar: CookieJar,
    Path((username, group)): Path<(String, String)>,
    body: Option<ApiJson<ChangeProofs>>,
) -> Result<Response, AppError> {
    let rights = group == state.console.admin_group();
    let token = allowed(&state, &admin, &client, body, rights).await?;
    let address = client.addr.to_string();
    let added = state
        .console
        .add_to_group(&actor(&admin, &address), &username, &group)
        .await?;
    Ok(answered(&state, jar, token, added, 0))
}

#[utoipa::path(delete, path = "/api/v1/admin/users/{username}/groups/{group}", tag = "admin", operation_id = "admin_group_remove", request_body(content = Option<ChangeProofs>, description = "the password when its last entry is stale; `code`, `recovery_code` or `passkey` when the change concerns who administers or another administrator's account"),
    params(("username" = String, Path, description = "the user's username"), ("group" = String, Path, description = "1 to 64 lowercase letters, digits, '-', '_' or '.'")),
    responses((status = 200, body = Changed, description = "done (`changed`: whether anything changed)"), (status = 409, description = "the last administrator stays"), (status = 422, description = "the group name is invalid")))]
pub(crate) async fn group_remove(
    State(state): State<AppState>,
    Extension(admin): Extension<AdminSession>,
    client: ClientInfo,
    jar: CookieJar,
    Path((username, group)): Path<(String, String)>,
    body: Option<ApiJson<ChangeProofs>>,
) -> Result<Response, AppError> {
    let rights = group == state.console.admin_group();
    let token = allowed(&state, &admin, &client, body, rights).await?;
    let address = client.addr.to_string();
    let removed = state
        .console
        .remove_from_group(&actor(&admin, &address), &username, &group)
        .await?;
    Ok(answered(&state, jar, token, removed, 0))
}

/// The admin API, every path of it behind the gate (unknown paths and methods too).
pub(crate) fn router(state: AppState) -> Router<AppState> {
    let routes = Router::new()
        .route("/users", get(search))
        .route("/audit", get(super::audit_api::audit))
        .route("/audit/export", get(super::audit_api::audit_export))
        .route("/users/{username}", get(user))
        .route("/users/{username}/end-sessions", post(end_sessions))
        .route("/users/{username}/disable", post(disable))
        .route("/users/{username}/enable", post(enable))
        .route(
            "/users/{username}/groups/{group}",
            put(group_add).delete(group_remove),
        )
        .merge(super::account_api::routes())
        .merge(super::clients_api::routes())
        .fallback(|| async { AppError::NotFound })
        .method_not_allowed_fallback(|| async { AppError::NotFound })
        .layer(axum::middleware::from_fn_with_state(
            state,
            super::admins_only,
        ));
    Router::new().nest("/api/v1/admin", routes)
}
