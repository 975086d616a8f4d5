//! The JSON API under `/api/v1`, and its OpenAPI document.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use axum_extra::extract::CookieJar;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use palisade::http::{ClientInfo, Sensitive};
use palisade::secret::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use crate::accounts::Registration;
use crate::body::ApiJson;
use crate::error::AppError;
use crate::sessions::{Auth, Authenticated, IssuedToken, clear_session_cookie, session_cookie};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterRequest {
    username: String,
    email: String,
    #[schema(value_type = String)]
    password: SecretString,
    display_name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginRequest {
    /// Username or email address.
    identifier: String,
    #[schema(value_type = String)]
    password: SecretString,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordChangeRequest {
    #[schema(value_type = String)]
    current_password: SecretString,
    #[schema(value_type = String)]
    new_password: SecretString,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EndSessionRequest {
    /// Required when the last password entry is older than the re-authentication window.
    #[schema(value_type = Option<String>)]
    password: Option<SecretString>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserView {
    id: i64,
    username: String,
    email: String,
    display_name: Option<String>,
    created_at: i64,
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

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LoginResponse {
    /// The session token, for clients that do not keep cookies (send it as
    /// `Authorization: Bearer <token>`). Browsers get it as an HttpOnly cookie too.
    #[schema(value_type = String)]
    token: IssuedToken,
    user: UserView,
}

pub(crate) fn user_view(u: &crate::store::UserRow) -> UserView {
    UserView {
        id: u.id,
        username: u.username.clone(),
        email: u.email.clone(),
        display_name: u.display_name.clone(),
        created_at: u.created_at,
    }
}

pub(crate) fn user_agent(headers: &HeaderMap) -> String {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// Marks a response as never to be cached (authenticated and auth responses).
pub(crate) fn sensitive(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    response.extensions_mut().insert(Sensitive);
    response
}

#[utoipa::path(post, path = "/api/v1/register", request_body = RegisterRequest,
    responses((status = 201, body = UserView), (status = 409, description = "username or email taken"), (status = 422, description = "invalid field or weak password")))]
pub(crate) async fn register(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<Response, AppError> {
    let user = state
        .accounts
        .register(
            Registration {
                username: body.username,
                email: body.email,
                password: body.password,
                display_name: body.display_name,
            },
            &client,
        )
        .await?;
    Ok(sensitive((StatusCode::CREATED, Json(user_view(&user)))))
}

#[utoipa::path(post, path = "/api/v1/login", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, description = "wrong credentials"), (status = 429, description = "throttled")))]
pub(crate) async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Response, AppError> {
    let (token, _session, user) = state
        .accounts
        .login(
            &body.identifier,
            body.password,
            &client,
            &user_agent(&headers),
        )
        .await?;
    let jar = jar.add(session_cookie(&token));
    Ok(sensitive((
        jar,
        Json(LoginResponse {
            token,
            user: user_view(&user),
        }),
    )))
}

#[utoipa::path(post, path = "/api/v1/logout", responses((status = 204), (status = 401)))]
pub(crate) async fn logout(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    Auth(auth): Auth,
) -> Result<Response, AppError> {
    state.accounts.logout(&auth, &client).await?;
    let mut response = sensitive((clear_session_cookie(jar), StatusCode::NO_CONTENT));
    response.headers_mut().insert(
        "clear-site-data",
        HeaderValue::from_static("\"cache\", \"cookies\", \"storage\""),
    );
    Ok(response)
}

#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = UserView), (status = 401)))]
pub(crate) async fn me(Auth(auth): Auth) -> Response {
    sensitive(Json(user_view(&auth.user)))
}

#[utoipa::path(post, path = "/api/v1/password", request_body = PasswordChangeRequest,
    responses((status = 200, body = LoginResponse, description = "changed; other sessions ended; this session has a new token"), (status = 403), (status = 422)))]
pub(crate) async fn change_password(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    Auth(auth): Auth,
    ApiJson(body): ApiJson<PasswordChangeRequest>,
) -> Result<Response, AppError> {
    let token = state
        .accounts
        .change_password(&auth, body.current_password, body.new_password, &client)
        .await?;
    let jar = jar.add(session_cookie(&token));
    Ok(sensitive((
        jar,
        Json(LoginResponse {
            token,
            user: user_view(&auth.user),
        }),
    )))
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
        Some(token) => {
            let jar = jar.add(session_cookie(&token));
            Ok(sensitive((
                jar,
                Json(LoginResponse {
                    token,
                    user: user_view(&auth.user),
                }),
            )))
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "palisade account service",
        description = "Errors are application/problem+json (RFC 9457) with a `field` member naming the field at fault."
    ),
    paths(
        register,
        login,
        logout,
        me,
        change_password,
        sessions,
        end_session,
        crate::vault::list,
        crate::vault::put,
        crate::vault::reveal,
        crate::vault::delete
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
        .route("/api/v1/register", post(register))
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
        .route("/api/v1/me", get(me))
        .route("/api/v1/password", post(change_password))
        .route("/api/v1/sessions", get(sessions))
        .route("/api/v1/sessions/{id}", delete(end_session))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/{*rest}", axum::routing::any(not_found))
}
