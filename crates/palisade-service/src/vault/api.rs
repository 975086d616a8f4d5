//! `/api/v1/secrets`: list, store, reveal, delete.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::CookieJar;
use http::StatusCode;
use palisade::http::ClientInfo;
use palisade::secret::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{remove, reveal_value, store_value};
use crate::body::ApiJson;
use crate::error::AppError;
use crate::sessions::{Auth, IssuedToken};
use crate::state::AppState;
use crate::web::sensitive;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PutSecret {
    #[schema(value_type = String)]
    value: SecretString,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevealRequest {
    /// Needed when the last password entry is older than the re-authentication window.
    #[schema(value_type = Option<String>)]
    password: Option<SecretString>,
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
    #[schema(value_type = Option<String>)]
    token: Option<IssuedToken>,
}

#[utoipa::path(get, path = "/api/v1/secrets", responses((status = 200, body = [SecretListItem]), (status = 401)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(auth): Auth,
) -> Result<Response, AppError> {
    let names = super::names(&state, &auth).await?;
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
    store_value(&state, &auth, &client, &name, body.value).await?;
    Ok(sensitive(StatusCode::NO_CONTENT))
}

#[utoipa::path(post, path = "/api/v1/secrets/{name}/reveal", request_body(content = Option<RevealRequest>, description = "optional"), params(("name" = String, Path)),
    responses((status = 200, body = Revealed), (status = 403, description = "password re-entry required"), (status = 404)))]
pub(crate) async fn reveal(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    Auth(auth): Auth,
    Path(name): Path<String>,
    body: Option<ApiJson<RevealRequest>>,
) -> Result<Response, AppError> {
    let password = body.and_then(|ApiJson(b)| b.password);
    let (value, reissued) = reveal_value(&state, &auth, &client, &name, password).await?;
    let token = reissued;
    let jar = state
        .accounts
        .sessions
        .cookies
        .set_renewed(jar, token.as_ref());
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
    remove(&state, &auth, &client, &name).await?;
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
