//! `GET /api/v1/sessions` and `DELETE /api/v1/sessions/{id}`.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{delete, get};
use axum::{Json, Router};
use axum_extra::extract::CookieJar;
use http::StatusCode;
use palisade::http::ClientInfo;
use palisade::secret::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Auth, Authenticated};
use crate::accounts::api::{LoginResponse, signed_in};
use crate::body::ApiJson;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::sensitive;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EndSessionRequest {
    /// Required when the last password entry is older than the re-authentication window.
    #[schema(value_type = Option<String>)]
    password: Option<SecretString>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionView {
    id: String,
    current: bool,
    created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    client_addr: String,
    user_agent: String,
}

pub(crate) fn session_views(
    auth: &Authenticated,
    sessions: Vec<crate::store::SessionRow>,
) -> Vec<SessionView> {
    sessions
        .into_iter()
        .map(|s| SessionView {
            current: s.id == auth.session.id,
            id: s.id,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            client_addr: s.client_addr,
            user_agent: s.user_agent,
        })
        .collect()
}

#[utoipa::path(get, path = "/api/v1/sessions", responses((status = 200, body = [SessionView]), (status = 401)))]
pub(crate) async fn sessions(
    State(state): State<AppState>,
    Auth(auth): Auth,
) -> Result<Response, AppError> {
    let list = state.accounts.sessions.list(auth.user.id).await?;
    Ok(sensitive(Json(session_views(&auth, list))))
}

#[utoipa::path(delete, path = "/api/v1/sessions/{id}", request_body(content = EndSessionRequest, description = "optional"),
    params(("id" = String, Path, description = "session id")),
    responses((status = 204), (status = 200, body = LoginResponse, description = "ended after re-authentication; this session has a new token"), (status = 403), (status = 404)))]
pub(crate) async fn end_session(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    Auth(auth): Auth,
    Path(id): Path<String>,
    body: Option<ApiJson<EndSessionRequest>>,
) -> Result<Response, AppError> {
    let password = body.and_then(|ApiJson(b)| b.password);
    match state
        .accounts
        .end_session(&auth, &id, password, &client)
        .await?
    {
        None => Ok(sensitive(StatusCode::NO_CONTENT)),
        Some(token) => Ok(signed_in(jar, token, &auth.user)),
    }
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/sessions", get(sessions))
        .route("/api/v1/sessions/{id}", delete(end_session))
}
