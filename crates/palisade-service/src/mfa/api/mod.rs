//! `GET /api/v1/mfa`, `POST /api/v1/mfa/totp`, `POST /api/v1/mfa/totp/{id}/confirm`,
//! `DELETE /api/v1/mfa/{id}`, `POST /api/v1/mfa/recovery-codes`, and the login's
//! `POST /api/v1/login/second-step`.

mod passkeys;
mod second_step;

pub(crate) use passkeys::*;
pub(crate) use second_step::*;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use axum_extra::extract::CookieJar;
use http::StatusCode;
use palisade::http::ClientInfo;
use palisade::secret::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use webauthn_rs::prelude::PublicKeyCredential;

use super::Proof;
use crate::body::ApiJson;
use crate::error::AppError;
use crate::sessions::{Authenticated, Enrolling, IssuedToken};
use crate::state::AppState;
use crate::web::sensitive;

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FactorView {
    id: String,
    /// `totp`.
    kind: String,
    name: String,
    created_at: i64,
    last_used_at: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FactorsView {
    factors: Vec<FactorView>,
    /// Unused recovery codes.
    recovery_codes_left: i64,
}

/// Proofs for a change to the factors: `password` when its last entry is older than the
/// re-authentication window; `code` or `recovery_code` when the account has a factor.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangeProofs {
    #[schema(value_type = Option<String>)]
    pub(crate) password: Option<SecretString>,
    /// A code from an enrolled authenticator app.
    #[schema(value_type = Option<String>, pattern = "^[0-9]{6}$")]
    pub(crate) code: Option<SecretString>,
    /// One of the recovery codes (used up).
    #[schema(value_type = Option<String>, pattern = "^([2-9a-hjkmnp-zA-HJKMNP-Z]{4}-?){3}[2-9a-hjkmnp-zA-HJKMNP-Z]{4}$")]
    pub(crate) recovery_code: Option<SecretString>,
    /// A passkey's answer to the challenge from `POST /api/v1/mfa/passkeys/challenge`.
    #[schema(value_type = Option<Object>)]
    pub(crate) passkey: Option<Box<PublicKeyCredential>>,
}

/// Adding an authenticator app or a passkey: its name, and the proofs a change needs (as
/// in `ChangeProofs`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddFactorRequest {
    /// What the user calls this factor ("phone", "laptop").
    #[schema(min_length = 1, max_length = 64)]
    name: String,
    #[schema(value_type = Option<String>)]
    password: Option<SecretString>,
    #[schema(value_type = Option<String>, pattern = "^[0-9]{6}$")]
    code: Option<SecretString>,
    #[schema(value_type = Option<String>, pattern = "^([2-9a-hjkmnp-zA-HJKMNP-Z]{4}-?){3}[2-9a-hjkmnp-zA-HJKMNP-Z]{4}$")]
    recovery_code: Option<SecretString>,
    /// A passkey's answer to the challenge from `POST /api/v1/mfa/passkeys/challenge`.
    #[schema(value_type = Option<Object>)]
    passkey: Option<Box<PublicKeyCredential>>,
}

/// Writes a secret that is shown this once (a new factor's secret, recovery codes).
fn shown<S: serde::Serializer>(secret: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    secret.expose(|s| serializer.serialize_str(s))
}

fn shown_all<S: serde::Serializer>(
    secrets: &Option<Vec<SecretString>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    match secrets {
        None => serializer.serialize_none(),
        Some(all) => {
            let mut seq = serializer.serialize_seq(Some(all.len()))?;
            for secret in all {
                secret.expose(|s| seq.serialize_element(s))?;
            }
            seq.end()
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TotpEnrolmentView {
    /// Confirm with `POST /api/v1/mfa/totp/{id}/confirm` within 10 minutes.
    id: String,
    /// The secret, base32, for typing into an app. Shown this once.
    #[schema(value_type = String)]
    #[serde(serialize_with = "shown")]
    secret: SecretString,
    /// The `otpauth://` URI (holds the secret).
    #[schema(value_type = String)]
    #[serde(serialize_with = "shown")]
    uri: SecretString,
    /// The URI as a QR code, SVG markup.
    #[schema(value_type = String)]
    #[serde(serialize_with = "shown")]
    qr_svg: SecretString,
    /// Set when the session was re-authenticated for this: its new token.
    #[schema(value_type = Option<String>)]
    token: Option<IssuedToken>,
    /// Set when this replaces an authenticator app that was started and never confirmed
    /// (it can no longer be confirmed), in a sentence.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfirmRequest {
    #[schema(value_type = String, pattern = "^[0-9]{6}$")]
    code: SecretString,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ChangedView {
    /// New recovery codes, shown this once (after the first factor, or when regenerated).
    #[schema(value_type = Option<Vec<String>>)]
    #[serde(serialize_with = "shown_all")]
    recovery_codes: Option<Vec<SecretString>>,
    /// The user's other sessions, which they may now want to end
    /// (`POST /api/v1/sessions/end-others`).
    other_sessions: usize,
    /// Set when the session was re-authenticated for this: its new token.
    #[schema(value_type = Option<String>)]
    token: Option<IssuedToken>,
}

/// What a new authenticator app's enrolment says of the unconfirmed one it cancels.
pub(crate) fn replaced_note(name: String) -> String {
    format!(
        "This replaces the authenticator app \"{name}\" you started to add and did not confirm: its codes will not be accepted."
    )
}

pub(crate) fn proofs(p: ChangeProofs) -> Result<(Option<SecretString>, Option<Proof>), AppError> {
    Ok((
        p.password,
        Proof::from_fields(p.code, p.recovery_code, p.passkey)?,
    ))
}

async fn changed(
    state: &AppState,
    jar: CookieJar,
    auth: &Authenticated,
    recovery_codes: Option<Vec<SecretString>>,
    token: Option<IssuedToken>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let other_sessions = state
        .accounts
        .sessions
        .list(auth.user.id)
        .await?
        .iter()
        .filter(|s| s.id != auth.session.id)
        .count();
    let jar = state
        .accounts
        .sessions
        .cookies
        .set_renewed(jar, token.as_ref());
    let body = ChangedView {
        recovery_codes,
        other_sessions,
        token,
    };
    Ok(sensitive((status, jar, Json(body))))
}

#[utoipa::path(get, path = "/api/v1/mfa", operation_id = "list_second_factors", responses((status = 200, body = FactorsView), (status = 401)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Enrolling(auth): Enrolling,
) -> Result<Response, AppError> {
    let (factors, left) = state.mfa.list(auth.user.id).await?;
    let factors = factors
        .into_iter()
        .map(|f| FactorView {
            id: f.id,
            kind: f.kind,
            name: f.name,
            created_at: f.created_at,
            last_used_at: f.last_used_at,
        })
        .collect();
    Ok(sensitive(Json(FactorsView {
        factors,
        recovery_codes_left: left,
    })))
}

#[utoipa::path(post, path = "/api/v1/mfa/totp", operation_id = "add_totp", request_body = AddFactorRequest,
    responses((status = 201, body = TotpEnrolmentView, description = "added, awaiting its first code"), (status = 403, description = "password or second factor required or wrong"), (status = 409, description = "name taken, or 10 factors already"), (status = 422), (status = 429)))]
pub(crate) async fn add_totp(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    Enrolling(auth): Enrolling,
    ApiJson(body): ApiJson<AddFactorRequest>,
) -> Result<Response, AppError> {
    let proof = Proof::from_fields(body.code, body.recovery_code, body.passkey)?;
    let password = body.password;
    let enrolment = state
        .mfa
        .begin_totp(
            &state.accounts,
            &state.keyring,
            &auth,
            &body.name,
            password,
            proof,
            &client,
        )
        .await?;
    let jar = state
        .accounts
        .sessions
        .cookies
        .set_renewed(jar, enrolment.reissued.as_ref());
    let view = TotpEnrolmentView {
        id: enrolment.id,
        secret: enrolment.secret,
        uri: enrolment.uri,
        qr_svg: enrolment.qr_svg,
        token: enrolment.reissued,
        note: enrolment.replaced.map(replaced_note),
    };
    Ok(sensitive((StatusCode::CREATED, jar, Json(view))))
}

#[utoipa::path(post, path = "/api/v1/mfa/totp/{id}/confirm", operation_id = "confirm_totp", request_body = ConfirmRequest,
    params(("id" = String, Path, description = "the factor's id, from its creation")),
    responses((status = 200, body = ChangedView, description = "confirmed; recovery codes when it is the first factor"), (status = 403, description = "wrong code"), (status = 404, description = "nothing awaiting confirmation by that id"), (status = 422), (status = 429)))]
pub(crate) async fn confirm_totp(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    Enrolling(auth): Enrolling,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ConfirmRequest>,
) -> Result<Response, AppError> {
    let codes = state
        .mfa
        .confirm_totp(
            &state.accounts,
            &state.keyring,
            &auth,
            &id,
            body.code,
            &client,
        )
        .await?;
    changed(&state, jar, &auth, codes, None, StatusCode::OK).await
}

#[utoipa::path(delete, path = "/api/v1/mfa/{id}", operation_id = "remove_second_factor", request_body(content = Option<ChangeProofs>, description = "the proofs asked for"),
    params(("id" = String, Path, description = "the factor's id")),
    responses((status = 200, body = ChangedView, description = "removed (with the last factor go the recovery codes)"), (status = 403), (status = 404), (status = 422, description = "a malformed code; `field` names it"), (status = 429)))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    Enrolling(auth): Enrolling,
    Path(id): Path<String>,
    body: Option<ApiJson<ChangeProofs>>,
) -> Result<Response, AppError> {
    let (password, proof) = proofs(body.map(|ApiJson(b)| b).unwrap_or_default())?;
    let reissued = state
        .mfa
        .remove(
            &state.accounts,
            &state.keyring,
            &auth,
            &id,
            password,
            proof,
            &client,
        )
        .await?;
    changed(&state, jar, &auth, None, reissued, StatusCode::OK).await
}

#[utoipa::path(post, path = "/api/v1/mfa/recovery-codes", operation_id = "regenerate_recovery_codes", request_body(content = Option<ChangeProofs>, description = "the proofs asked for"),
    responses((status = 200, body = ChangedView, description = "a new set; the old codes no longer work"), (status = 403), (status = 404, description = "no second factor"), (status = 422, description = "a malformed code; `field` names it"), (status = 429)))]
pub(crate) async fn regenerate_codes(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    Enrolling(auth): Enrolling,
    body: Option<ApiJson<ChangeProofs>>,
) -> Result<Response, AppError> {
    let (password, proof) = proofs(body.map(|ApiJson(b)| b).unwrap_or_default())?;
    let (codes, reissued) = state
        .mfa
        .regenerate_codes(
            &state.accounts,
            &state.keyring,
            &auth,
            password,
            proof,
            &client,
        )
        .await?;
    changed(&state, jar, &auth, Some(codes), reissued, StatusCode::OK).await
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/mfa", get(list))
        .route("/api/v1/mfa/totp", post(add_totp))
        .route("/api/v1/mfa/totp/{id}/confirm", post(confirm_totp))
        .route("/api/v1/mfa/{id}", delete(remove))
        .route("/api/v1/mfa/recovery-codes", post(regenerate_codes))
        .route("/api/v1/login/second-step", post(second_step))
        .route("/api/v1/mfa/passkeys", post(add_passkey))
        .route("/api/v1/mfa/passkeys/finish", post(finish_passkey))
        .route("/api/v1/mfa/passkeys/challenge", post(reauth_challenge))
        .route(
            "/api/v1/login/second-step/challenge",
            post(second_step_challenge),
        )
        .route(
            "/api/v1/login/passkey/challenge",
            post(passkey_sign_in_challenge),
        )
        .route("/api/v1/login/passkey", post(passkey_sign_in))
}
