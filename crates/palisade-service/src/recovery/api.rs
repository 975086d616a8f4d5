//! `POST /api/v1/password/reset` (ask for a link), `POST /api/v1/password/reset/complete`
//! (set the new password with it) and `POST /api/v1/password/reset/challenge` (a passkey
//! challenge for the second factor a reset asks for).

use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use axum::{Json, Router};
use http::StatusCode;
use palisade::http::ClientInfo;
use palisade::secret::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use webauthn_rs::prelude::PublicKeyCredential;

use crate::body::ApiJson;
use crate::error::AppError;
use crate::mfa::Proof;
use crate::sessions::PresentedToken;
use crate::state::AppState;
use crate::web::sensitive;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetRequest {
    /// The account's email address.
    email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ResetRequested {
    /// Always the same text: whether the address has an account is not told.
    detail: &'static str,
}

/// The one answer to every well-formed reset request.
pub(crate) const REQUESTED: &str = "If an account uses this address, a link to reset its password is on its way. It works for 15 minutes.";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetCompletion {
    /// The token from the link (`/password/reset?token=…`).
    #[schema(value_type = String)]
    token: SecretString,
    #[schema(value_type = String)]
    new_password: SecretString,
    /// When the account has a second factor: a code from its authenticator app…
    #[schema(value_type = Option<String>, pattern = "^[0-9]{6}$")]
    code: Option<SecretString>,
    /// …or one of its recovery codes (used up)…
    #[schema(value_type = Option<String>, pattern = "^([2-9a-hjkmnp-zA-HJKMNP-Z]{4}-?){3}[2-9a-hjkmnp-zA-HJKMNP-Z]{4}$")]
    recovery_code: Option<SecretString>,
    /// …or a passkey's answer to the challenge from `POST /api/v1/password/reset/challenge`.
    #[schema(value_type = Option<Object>)]
    passkey: Option<Box<PublicKeyCredential>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetToken {
    #[schema(value_type = String)]
    token: SecretString,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ResetChallenge {
    /// For `navigator.credentials.get`.
    #[schema(value_type = Object)]
    options: webauthn_rs::prelude::RequestChallengeResponse,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ResetCompleted {
    username: String,
}

#[utoipa::path(post, path = "/api/v1/password/reset", operation_id = "request_password_reset", request_body = ResetRequest,
    responses((status = 202, body = ResetRequested, description = "the same for every address"), (status = 422, description = "not an email address"), (status = 429)))]
pub(crate) async fn request(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<ResetRequest>,
) -> Result<Response, AppError> {
    super::request(&state, &body.email, &client).await?;
    Ok(sensitive((
        StatusCode::ACCEPTED,
        Json(ResetRequested { detail: REQUESTED }),
    )))
}

#[utoipa::path(post, path = "/api/v1/password/reset/complete", operation_id = "complete_password_reset", request_body = ResetCompletion,
    responses((status = 200, body = ResetCompleted, description = "the password is changed; every session of the account ended: sign in with the new one"),
        (status = 400, description = "the link is not current (used, replaced, expired)"),
        (status = 403, description = "the account has a second factor: give `code`, `recovery_code` or `passkey` (or it was wrong)"),
        (status = 422), (status = 429)))]
pub(crate) async fn complete(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<ResetCompletion>,
) -> Result<Response, AppError> {
    let proof = Proof::from_fields(body.code, body.recovery_code, body.passkey)?;
    let token = PresentedToken::from_secret(body.token);
    let user = super::complete(&state, &token, body.new_password, proof, &client).await?;
    Ok(sensitive(Json(ResetCompleted {
        username: user.username,
    })))
}

#[utoipa::path(post, path = "/api/v1/password/reset/challenge", operation_id = "password_reset_challenge", request_body = ResetToken,
    responses((status = 200, body = ResetChallenge, description = "the options for navigator.credentials.get, to prove the account's second factor with a passkey (field `passkey`)"),
        (status = 400, description = "the link is not current"), (status = 404, description = "the account has no passkey")))]
pub(crate) async fn challenge(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ResetToken>,
) -> Result<Response, AppError> {
    let token = PresentedToken::from_secret(body.token);
    let options = super::passkey_challenge(&state, &token).await?;
    Ok(sensitive(Json(ResetChallenge { options })))
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/password/reset", post(request))
        .route("/api/v1/password/reset/complete", post(complete))
        .route("/api/v1/password/reset/challenge", post(challenge))
}
