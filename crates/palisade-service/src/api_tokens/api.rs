//! `/api/v1/tokens`: create (shown once), list, revoke — with a session only; an API token
//! cannot mint or see other tokens.

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

use super::{Proved, Scope, Wanted};
use crate::body::ApiJson;
use crate::error::AppError;
use crate::sessions::{Auth, Authenticated, IssuedToken};
use crate::state::AppState;
use crate::store::ApiTokenRow;
use crate::web::sensitive;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateToken {
    /// 1 to 64 letters, digits, spaces, '.', '_' or '-'; unique per user.
    name: String,
    /// Days until it expires (1 to 366); absent: it does not expire.
    expires_in_days: Option<u32>,
    /// Required when the password was last entered longer ago than the re-authentication window.
    #[schema(value_type = Option<String>)]
    password: Option<SecretString>,
    /// `admin`: the token also reaches the admin API while its owner administers (only
    /// an administrator may ask, with a fresh second factor: `code` or `recovery_code`).
    /// Absent or empty: forward-auth and `/api/v1/me` only.
    #[schema(pattern = "^(admin)?$")]
    scope: Option<String>,
    #[schema(value_type = Option<String>, pattern = "^[0-9]{6}$")]
    code: Option<SecretString>,
    #[schema(value_type = Option<String>)]
    recovery_code: Option<SecretString>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokenView {
    id: String,
    name: String,
    created_at: i64,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    /// `admin`, or empty.
    scope: String,
}

impl From<ApiTokenRow> for TokenView {
    fn from(row: ApiTokenRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            scope: row.scope,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedToken {
    #[serde(flatten)]
    view: TokenView,
    /// The token: shown this once, never again.
    #[schema(value_type = String)]
    token: IssuedToken,
    /// Present when the password was re-entered: this session's new token.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    session_token: Option<IssuedToken>,
}

/// What a new token of `scope` needs of the session: a basic one, the password when stale
/// (checked as it is made); an admin one, that the user administers and a fresh second
/// factor (checked here, first).
pub(crate) async fn proved_for(
    state: &AppState,
    auth: &Authenticated,
    scope: Scope,
    password: Option<SecretString>,
    proof: Option<crate::mfa::Proof>,
    client: &ClientInfo,
) -> Result<Proved, AppError> {
    if scope == Scope::Basic {
        return Ok(Proved::Password(password));
    }
    if !state.console.is_admin(auth.user.id).await? {
        return Err(AppError::AdminOnly(
            "Only an administrator can make a token with the admin scope.",
        ));
    }
    if auth.session.second_factor == 0 {
        return Err(AppError::AdminSecondFactor);
    }
    let Some(proof) = proof else {
        return Err(AppError::SecondFactorRequired);
    };
    let reissued = state
        .mfa
        .guard(
            &state.accounts,
            &state.keyring,
            auth,
            password,
            Some(proof),
            client,
        )
        .await?;
    Ok(Proved::Checked(reissued))
}

#[utoipa::path(post, path = "/api/v1/tokens", request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 403, description = "password re-entry required, or wrong; or a second factor: the user has one (or the site requires one) and this session did not pass it"),
        (status = 409, description = "the name is taken, or the user holds the most tokens allowed"), (status = 422)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    Auth(auth): Auth,
    ApiJson(body): ApiJson<CreateToken>,
) -> Result<Response, AppError> {
    let scope = Scope::parse(body.scope.as_deref())?;
    let proof = crate::mfa::Proof::from_fields(body.code, body.recovery_code, None)?;
    let proved = proved_for(&state, &auth, scope, body.password, proof, &client).await?;
    let created = state
        .api_tokens
        .create(
            &state.accounts,
            &auth,
            Wanted {
                name: &body.name,
                days: body.expires_in_days,
                scope,
            },
            proved,
            &client,
        )
        .await?;
    let jar = state
        .accounts
        .sessions
        .cookies
        .set_renewed(jar, created.reissued.as_ref());
    Ok(sensitive((
        StatusCode::CREATED,
        jar,
        Json(CreatedToken {
            view: created.row.into(),
            token: created.token,
            session_token: created.reissued,
        }),
    )))
}

#[utoipa::path(get, path = "/api/v1/tokens", responses((status = 200, body = [TokenView])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(auth): Auth,
) -> Result<Response, AppError> {
    let tokens = state.api_tokens.list(&auth).await?;
    Ok(sensitive(Json(
        tokens.into_iter().map(TokenView::from).collect::<Vec<_>>(),
    )))
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", params(("id" = String, Path)), responses((status = 204), (status = 404)))]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    client: ClientInfo,
    Auth(auth): Auth,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    state
        .api_tokens
        .revoke(&state.accounts, &auth, &id, &client)
        .await?;
    Ok(sensitive(StatusCode::NO_CONTENT))
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tokens", get(list).post(create))
        .route("/api/v1/tokens/{id}", delete(revoke))
}
