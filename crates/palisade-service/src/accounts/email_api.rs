//! `POST /api/v1/email/verification` (send the link again), `POST /api/v1/account/email`
//! (ask to change the address) and `POST /api/v1/email/confirm` (use a mailed link).

use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use axum::{Json, Router};
use http::StatusCode;
use palisade::http::ClientInfo;
use palisade::secret::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::email::Confirmed;
use crate::body::ApiJson;
use crate::error::AppError;
use crate::sessions::{PresentedToken, SignedIn};
use crate::state::AppState;
use crate::web::sensitive;

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VerificationView {
    /// `false`: the address is confirmed already, nothing was sent.
    sent: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EmailChangeRequest {
    new_email: String,
    /// The account's password (always asked).
    #[schema(value_type = String)]
    password: SecretString,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EmailConfirmRequest {
    /// The token from the link (`/email/confirm?token=…`).
    #[schema(value_type = String)]
    token: SecretString,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EmailConfirmedView {
    /// `verified` (the account's address is confirmed) or `changed` (the account now uses
    /// the new address).
    confirmed: &'static str,
}

#[utoipa::path(post, path = "/api/v1/email/verification", operation_id = "send_email_verification",
    responses((status = 202, body = VerificationView, description = "a link is on its way (or the address is confirmed already)"), (status = 401), (status = 429)))]
pub(crate) async fn resend(
    State(state): State<AppState>,
    client: ClientInfo,
    SignedIn(auth): SignedIn,
) -> Result<Response, AppError> {
    let sent = state
        .accounts
        .send_verification(&auth.user, &client)
        .await?;
    Ok(sensitive((
        StatusCode::ACCEPTED,
        Json(VerificationView { sent }),
    )))
}

#[utoipa::path(post, path = "/api/v1/account/email", operation_id = "change_email", request_body = EmailChangeRequest,
    responses((status = 202, description = "a link went to the new address and a notice to the old; nothing changes until the link is used"),
        (status = 401), (status = 403, description = "wrong password"), (status = 422), (status = 429)))]
pub(crate) async fn change(
    State(state): State<AppState>,
    client: ClientInfo,
    SignedIn(auth): SignedIn,
    ApiJson(body): ApiJson<EmailChangeRequest>,
) -> Result<Response, AppError> {
    state
        .accounts
        .request_email_change(&auth, &body.new_email, body.password, &client)
        .await?;
    Ok(sensitive(StatusCode::ACCEPTED))
}

#[utoipa::path(post, path = "/api/v1/email/confirm", operation_id = "confirm_email", request_body = EmailConfirmRequest,
    responses((status = 200, body = EmailConfirmedView), (status = 400, description = "the link is not current"),
        (status = 409, description = "another account took the new address meanwhile"), (status = 429)))]
pub(crate) async fn confirm(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<EmailConfirmRequest>,
) -> Result<Response, AppError> {
    let token = PresentedToken::from_secret(body.token);
    let confirmed = state.accounts.confirm_email(&token, &client).await?;
    Ok(sensitive(Json(EmailConfirmedView {
        confirmed: match confirmed {
            Confirmed::Verified => "verified",
            Confirmed::Changed => "changed",
        },
    })))
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/email/verification", post(resend))
        .route("/api/v1/account/email", post(change))
        .route("/api/v1/email/confirm", post(confirm))
}
