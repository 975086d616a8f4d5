//! The passkey endpoints: `POST /api/v1/mfa/passkeys` and its `/finish`, the challenges
//! for re-authentication and the second step, and signing in with a passkey alone.

use super::*;
use crate::accounts::api::signed_in;
use crate::body::ApiJson;
use crate::error::AppError;
use crate::mfa::Proof;
use crate::mfa::passkeys::Binding;
use crate::sessions::{Enrolling, IssuedToken, PresentedToken};
use crate::state::AppState;
use crate::web::{sensitive, user_agent};
use axum::Json;
use axum::extract::State;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use http::StatusCode;
use palisade::http::ClientInfo;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

/// Options for `navigator.credentials.create` or `.get`, as WebAuthn defines them.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ChallengeView<T: Serialize> {
    #[schema(value_type = Object)]
    options: T,
    /// Set when the session was re-authenticated for this: its new token.
    #[schema(value_type = Option<String>)]
    token: Option<IssuedToken>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FinishPasskeyRequest {
    /// The browser's answer to `navigator.credentials.create`.
    #[schema(value_type = Object)]
    credential: Box<RegisterPublicKeyCredential>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasskeySignInRequest {
    /// The browser's answer to `navigator.credentials.get`.
    #[schema(value_type = Object)]
    credential: Box<PublicKeyCredential>,
}

#[utoipa::path(post, path = "/api/v1/mfa/passkeys", operation_id = "add_passkey", request_body = AddFactorRequest,
    responses((status = 200, description = "the options for navigator.credentials.create; finish with /api/v1/mfa/passkeys/finish within 5 minutes"), (status = 403, description = "password or second factor required or wrong"), (status = 404, description = "passkeys are not available (public_origin is an address)"), (status = 422), (status = 429)))]
pub(crate) async fn add_passkey(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    Enrolling(auth): Enrolling,
    ApiJson(body): ApiJson<AddFactorRequest>,
) -> Result<Response, AppError> {
    let proof = Proof::from_fields(body.code, body.recovery_code, body.passkey)?;
    let (options, token) = state
        .mfa
        .begin_passkey(
            &state.accounts,
            &state.keyring,
            &auth,
            &body.name,
            body.password,
            proof,
            &client,
        )
        .await?;
    let jar = state
        .accounts
        .sessions
        .cookies
        .set_renewed(jar, token.as_ref());
    Ok(sensitive((jar, Json(ChallengeView { options, token }))))
}

#[utoipa::path(post, path = "/api/v1/mfa/passkeys/finish", operation_id = "finish_passkey", request_body = FinishPasskeyRequest,
    responses((status = 200, body = ChangedView, description = "added; recovery codes when it is the first factor"), (status = 403, description = "the answer does not verify"), (status = 404, description = "no passkey being added by this session"), (status = 409, description = "this credential is registered already, or 10 factors")))]
pub(crate) async fn finish_passkey(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    Enrolling(auth): Enrolling,
    ApiJson(body): ApiJson<FinishPasskeyRequest>,
) -> Result<Response, AppError> {
    let codes = state
        .mfa
        .finish_passkey(&state.accounts, &auth, &body.credential, &client)
        .await?;
    changed(&state, jar, &auth, codes, None, StatusCode::OK).await
}

#[utoipa::path(post, path = "/api/v1/mfa/passkeys/challenge", operation_id = "reauth_passkey_challenge",
    responses((status = 200, description = "the options for navigator.credentials.get, to prove a passkey for a change to the factors (field `passkey`)"), (status = 404, description = "no passkey, or passkeys not available")))]
pub(crate) async fn reauth_challenge(
    State(state): State<AppState>,
    Enrolling(auth): Enrolling,
) -> Result<Response, AppError> {
    let options = state
        .mfa
        .passkey_challenge(auth.user.id, Binding::Reauthentication(&auth.session.id))
        .await?;
    Ok(sensitive(Json(ChallengeView {
        options,
        token: None,
    })))
}

#[utoipa::path(post, path = "/api/v1/login/second-step/challenge", operation_id = "second_step_challenge",
    responses((status = 200, description = "the options for navigator.credentials.get, for the second step (field `passkey`)"), (status = 401, description = "no pending login"), (status = 404, description = "the account has no passkey")))]
pub(crate) async fn second_step_challenge(
    State(state): State<AppState>,
    PendingToken(pending): PendingToken,
) -> Result<Response, AppError> {
    let pending_hash = pending
        .and_then(|p| p.hash())
        .ok_or(AppError::LoginExpired)?;
    let options = state.mfa.second_step_challenge(&pending_hash).await?;
    Ok(sensitive(Json(ChallengeView {
        options,
        token: None,
    })))
}

#[utoipa::path(post, path = "/api/v1/login/passkey/challenge", operation_id = "passkey_sign_in_challenge",
    responses((status = 200, description = "the options for navigator.credentials.get (a discoverable passkey, user verification required); the challenge is bound to a cookie"), (status = 404, description = "passkeys not available")))]
pub(crate) async fn passkey_sign_in_challenge(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
) -> Result<Response, AppError> {
    state
        .accounts
        .rate(
            &crate::accounts::keys::client_second_steps(&palisade::throttle::client_key(
                client.addr,
            )),
            &client,
        )
        .await?;
    let token = IssuedToken::generate()?;
    let options = state
        .mfa
        .begin_passkey_sign_in(&token.expose(crate::sessions::token_hash))
        .await?;
    let jar = state
        .accounts
        .sessions
        .cookies
        .set_passkey_sign_in(jar, &token);
    Ok(sensitive((
        jar,
        Json(ChallengeView {
            options,
            token: None,
        }),
    )))
}

#[utoipa::path(post, path = "/api/v1/login/passkey", operation_id = "passkey_sign_in", request_body = PasskeySignInRequest,
    responses((status = 200, body = crate::accounts::api::LoginResponse, description = "signed in (the session counts as having a second factor)"), (status = 401, description = "the answer does not verify, or its challenge is gone"), (status = 429)))]
pub(crate) async fn passkey_sign_in(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    headers: http::HeaderMap,
    ApiJson(body): ApiJson<PasskeySignInRequest>,
) -> Result<Response, AppError> {
    let challenge = jar
        .get(crate::sessions::PASSKEY_SIGN_IN_COOKIE)
        .map(|c| PresentedToken::from_cookie_value(c.value()))
        .and_then(|t| t.hash())
        .ok_or(AppError::LoginExpired)?;
    let agent = user_agent(&headers);
    let (token, user) = state
        .mfa
        .sign_in_with_passkey(
            &state.accounts,
            &challenge,
            &body.credential,
            &client,
            &agent,
        )
        .await?;
    let jar = state.accounts.sessions.cookies.clear_passkey_sign_in(jar);
    let jar = crate::accounts::browsers::new_sign_in(&state, jar, &user, &client, &agent);
    Ok(signed_in(&state, jar, token, &user))
}
