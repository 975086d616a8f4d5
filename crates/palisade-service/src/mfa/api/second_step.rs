//! `POST /api/v1/login/second-step`: a pending login's code, recovery code or passkey.

use crate::accounts::api::signed_in;
use crate::body::ApiJson;
use crate::error::AppError;
use crate::mfa::Proof;
use crate::sessions::PresentedToken;
use crate::state::AppState;
use crate::web::user_agent;
use axum::extract::State;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use http::request::Parts;
use palisade::http::ClientInfo;
use palisade::secret::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;
use webauthn_rs::prelude::PublicKeyCredential;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecondStepRequest {
    #[schema(value_type = Option<String>, pattern = "^[0-9]{6}$")]
    code: Option<SecretString>,
    #[schema(value_type = Option<String>, pattern = "^([2-9a-hjkmnp-zA-HJKMNP-Z]{4}-?){3}[2-9a-hjkmnp-zA-HJKMNP-Z]{4}$")]
    recovery_code: Option<SecretString>,
    /// A passkey's answer to the challenge from `POST /api/v1/login/second-step/challenge`.
    #[schema(value_type = Option<Object>)]
    passkey: Option<Box<PublicKeyCredential>>,
}

/// The pending login's token, from the request's head (cookie or bearer).
pub(crate) struct PendingToken(pub(crate) Option<PresentedToken>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PendingToken {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(PresentedToken::pending_from_parts(parts)))
    }
}

#[utoipa::path(post, path = "/api/v1/login/second-step", operation_id = "login_second_step", request_body = SecondStepRequest,
    responses((status = 200, body = crate::accounts::api::LoginResponse, description = "signed in"), (status = 401, description = "no pending login: expired, completed, or out of guesses"), (status = 403, description = "wrong or used code"), (status = 422), (status = 429)))]
pub(crate) async fn second_step(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    headers: http::HeaderMap,
    PendingToken(pending): PendingToken,
    ApiJson(body): ApiJson<SecondStepRequest>,
) -> Result<Response, AppError> {
    let proof = Proof::from_fields(body.code, body.recovery_code, body.passkey)?
        .ok_or(AppError::SecondFactorRequired)?;
    let agent = user_agent(&headers);
    let (token, user) = state
        .mfa
        .second_step(
            &state.accounts,
            &state.keyring,
            pending,
            proof,
            &client,
            &agent,
        )
        .await?;
    let jar = state.accounts.sessions.cookies.clear_pending(jar);
    let jar = crate::accounts::browsers::new_sign_in(&state, jar, &user, &client, &agent);
    Ok(signed_in(&state, jar, token, &user))
}
