//! `GET /api/v1/sessions`: the signed-in user's sessions. (Ending one asks for the
//! password again, so it is an account action: `accounts::api`.)

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Auth, Authenticated};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::sensitive;

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

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/sessions", get(sessions))
}
