//! The JSON API under `/api/v1`: its OpenAPI document and the problem+json answer for
//! anything unknown. The routes themselves live with their capability.

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

use crate::error::AppError;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "palisade account service",
        description = "Errors are application/problem+json (RFC 9457) with a `field` member naming the field at fault."
    ),
    paths(
        crate::accounts::api::register,
        crate::accounts::api::login,
        crate::accounts::api::logout,
        crate::accounts::api::me,
        crate::accounts::api::change_password,
        crate::sessions::api::sessions,
        crate::accounts::api::end_session,
        crate::vault::api::list,
        crate::vault::api::put,
        crate::vault::api::reveal,
        crate::vault::api::delete
    )
)]
pub(crate) struct ApiDoc;

async fn openapi() -> Response {
    Json(ApiDoc::openapi()).into_response()
}

async fn not_found() -> AppError {
    AppError::NotFound
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/{*rest}", axum::routing::any(not_found))
}
