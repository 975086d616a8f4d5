//! `POST /api/v1/register`, `/login`, `/logout`, `/password`, `GET /api/v1/me`, and
//! `DELETE /api/v1/sessions/{id}` (which may ask for the password again).

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::CookieJar;
use http::{HeaderMap, HeaderValue, StatusCode};
use palisade::http::ClientInfo;
use palisade::secret::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Registration, SignIn};
use crate::body::ApiJson;
use crate::error::AppError;
use crate::sessions::{Auth, IssuedToken, SignedIn};
use crate::state::AppState;
use crate::store::UserRow;
use crate::web::Caller;
use crate::web::{sensitive, user_agent};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterRequest {
    #[schema(
        min_length = 3,
        max_length = 32,
        pattern = "^[A-Za-z0-9][A-Za-z0-9._-]*$"
    )]
    username: String,
    #[schema(format = "email", max_length = 254)]
    email: String,
    /// At least 12 characters; refused when common, breached or built from the other fields.
    #[schema(value_type = String, min_length = 12, max_length = 256)]
    password: SecretString,
    #[schema(min_length = 1, max_length = 64)]
    display_name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginRequest {
    /// Username or email address.
    #[schema(min_length = 1, max_length = 254)]
    identifier: String,
    #[schema(value_type = String, min_length = 1, max_length = 1024)]
    password: SecretString,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordChangeRequest {
    #[schema(value_type = String, min_length = 1, max_length = 1024)]
    current_password: SecretString,
    #[schema(value_type = String, min_length = 12, max_length = 256)]
    new_password: SecretString,
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
pub(crate) struct LoginResponse {
    /// The session token, for clients that do not keep cookies (send it as
    /// `Authorization: Bearer <token>`). Browsers get it as an HttpOnly cookie too.
    #[schema(value_type = String)]
    token: IssuedToken,
    user: UserView,
}

/// The password was right and the account has a second factor: the login waits for
/// `POST /api/v1/login/second-step` with this token (also set as a cookie for browsers),
/// which opens nothing else.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SecondStepRequired {
    /// Always `true`.
    second_step: bool,
    /// The pending login's token, for `Authorization: Bearer` on the second step only.
    #[schema(value_type = String)]
    token: IssuedToken,
    /// Unix seconds: after this, sign in again.
    expires_at: i64,
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

#[utoipa::path(post, path = "/api/v1/register", request_body = RegisterRequest,
    responses((status = 201, body = UserView, description = "the account is made (signup_by_link off)"),
        (status = 202, body = super::signup_web::SignupView, description = "signup_by_link: the same answer whether or not the address has an account; a link goes to it (or a notice to its owner)"),
        (status = 409, description = "username taken (and, with signup_by_link off, email taken)"), (status = 422, description = "invalid field or weak password")))]
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
    match user {
        super::Registered::Account(user) => {
            Ok(sensitive((StatusCode::CREATED, Json(user_view(&user)))))
        }
        super::Registered::LinkSent => Ok(super::signup_web::link_sent()),
    }
}

#[utoipa::path(post, path = "/api/v1/login", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 202, body = SecondStepRequired, description = "password right; a second factor is enrolled: continue with /api/v1/login/second-step"), (status = 401, description = "wrong credentials"), (status = 422, description = "an empty or overlong field"), (status = 429, description = "throttled")))]
pub(crate) async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Response, AppError> {
    let agent = user_agent(&headers);
    let signed = state
        .accounts
        .login(&body.identifier, body.password, &client, &agent)
        .await?;
    Ok(match signed {
        SignIn::Session { token, user, .. } => {
            let jar = super::browsers::new_sign_in(&state, jar, &user, &client, &agent);
            signed_in(&state, jar, token, &user)
        }
        SignIn::SecondStep { token, expires_at } => {
            let jar = state.accounts.sessions.cookies.set_pending(jar, &token);
            let body = SecondStepRequired {
                second_step: true,
                token,
                expires_at,
            };
            sensitive((StatusCode::ACCEPTED, jar, Json(body)))
        }
    })
}

#[utoipa::path(post, path = "/api/v1/logout", responses((status = 204), (status = 401)))]
pub(crate) async fn logout(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    SignedIn(auth): SignedIn,
) -> Result<Response, AppError> {
    state.accounts.logout(&auth, &client).await?;
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

/// The one account endpoint an API token may call besides the forward-auth ones.
#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = UserView), (status = 401),
    (status = 403, description = "require_second_factor: this session, or this API token's user, has no second factor; or require_verified_email: the address is not confirmed")))]
pub(crate) async fn me(Caller(user): Caller) -> Response {
    sensitive(Json(user_view(&user)))
}

#[utoipa::path(post, path = "/api/v1/password", request_body = PasswordChangeRequest,
    responses((status = 200, body = LoginResponse, description = "changed; other sessions ended and API tokens revoked; this session has a new token"), (status = 403), (status = 422)))]
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
    Ok(signed_in(&state, jar, token, &auth.user))
}

/// The answer to a password entry that (re)issued the session's token: the cookie for
/// browsers, the token in the body for other clients.
pub(crate) fn signed_in(
    state: &AppState,
    jar: CookieJar,
    token: IssuedToken,
    user: &UserRow,
) -> Response {
    let jar = state.accounts.sessions.cookies.set(jar, &token);
    let body = LoginResponse {
        token,
        user: user_view(user),
    };
    sensitive((jar, Json(body)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EndSessionRequest {
    /// Required when the last password entry is older than the re-authentication window.
    #[schema(value_type = Option<String>)]
    password: Option<SecretString>,
}

#[utoipa::path(delete, path = "/api/v1/sessions/{id}", request_body(content = Option<EndSessionRequest>, description = "optional"),
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
        Some(token) => Ok(signed_in(&state, jar, token, &auth.user)),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EndedView {
    /// Sessions ended.
    ended: u64,
    /// Set when the session was re-authenticated for this: its new token.
    #[schema(value_type = Option<String>)]
    token: Option<IssuedToken>,
}

#[utoipa::path(post, path = "/api/v1/sessions/end-others", request_body(content = Option<EndSessionRequest>, description = "optional"),
    responses((status = 200, body = EndedView, description = "every other session of the user ended"), (status = 403)))]
pub(crate) async fn end_other_sessions(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    Auth(auth): Auth,
    body: Option<ApiJson<EndSessionRequest>>,
) -> Result<Response, AppError> {
    let password = body.and_then(|ApiJson(b)| b.password);
    let (ended, token) = state
        .accounts
        .end_other_sessions(&auth, password, &client)
        .await?;
    let jar = state
        .accounts
        .sessions
        .cookies
        .set_renewed(jar, token.as_ref());
    Ok(sensitive((jar, Json(EndedView { ended, token }))))
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/register", post(register))
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
        .route("/api/v1/me", get(me))
        .route("/api/v1/password", post(change_password))
        .route("/api/v1/sessions/{id}", axum::routing::delete(end_session))
        .route("/api/v1/sessions/end-others", post(end_other_sessions))
}
