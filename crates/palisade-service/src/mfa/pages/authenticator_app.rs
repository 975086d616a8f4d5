//! Adding an authenticator app from the page: its key and QR code shown once (the page is
//! not cached), then confirmed by its first code.

use super::*;
use crate::body::Form;
use crate::error::AppError;
use crate::sessions::MaybeEnrolling;
use crate::state::AppState;
use crate::web::{FormErrors, guarded, see_other};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use http::StatusCode;
use palisade::http::ClientInfo;
use palisade::http::CspNonce;
use palisade::secret::SecretString;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AddForm {
    csrf: String,
    name: String,
    /// A passkey's answer, when the page's script proved one.
    #[serde(default)]
    passkey: Option<String>,
    #[serde(default)]
    code: Option<SecretString>,
    #[serde(default)]
    password: Option<SecretString>,
}

pub(super) async fn add_submit(
    State(state): State<AppState>,
    nonce: CspNonce,
    client: ClientInfo,
    jar: CookieJar,
    MaybeEnrolling(auth): MaybeEnrolling,
    Form(form): Form<AddForm>,
) -> Response {
    let Some(auth) = auth else {
        return see_other("/login");
    };
    let password = form.password.filter(|p| !p.is_empty());
    let proof = typed_proof(form.code, form.passkey);
    let result = guarded(&state, &auth, &form.csrf, async {
        state
            .mfa
            .begin_totp(
                &state.accounts,
                &state.keyring,
                &auth,
                &form.name,
                password,
                proof?,
                &client,
            )
            .await
    })
    .await;
    match result {
        Ok(enrolment) => {
            let jar = state
                .accounts
                .sessions
                .cookies
                .set_renewed(jar, enrolment.reissued.as_ref());
            let note = enrolment
                .replaced
                .clone()
                .map(crate::mfa::api::replaced_note);
            let shown = Shown {
                enrolment: Some(EnrolmentShown {
                    qr_svg: exposed(&enrolment.qr_svg),
                    secret: exposed(&enrolment.secret),
                }),
                confirm_id: Some(&enrolment.id),
                notice: note.as_deref(),
                ..Shown::default()
            };
            let page = factors_view(&state, &nonce, &auth, StatusCode::CREATED, shown).await;
            (jar, page).into_response()
        }
        Err(e) => {
            let shown = Shown {
                name: &form.name,
                errors: FormErrors::from(&e),
                ..Shown::default()
            };
            factors_view(&state, &nonce, &auth, e.problem().status(), shown).await
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConfirmForm {
    csrf: String,
    confirm_code: SecretString,
}

pub(super) async fn confirm_submit(
    State(state): State<AppState>,
    nonce: CspNonce,
    client: ClientInfo,
    MaybeEnrolling(auth): MaybeEnrolling,
    Path(id): Path<String>,
    Form(form): Form<ConfirmForm>,
) -> Response {
    let Some(auth) = auth else {
        return see_other("/login");
    };
    let result = guarded(
        &state,
        &auth,
        &form.csrf,
        state.mfa.confirm_totp(
            &state.accounts,
            &state.keyring,
            &auth,
            &id,
            form.confirm_code,
            &client,
        ),
    )
    .await;
    match result {
        Ok(codes) => {
            let shown = Shown {
                recovery_codes: codes.map(|c| c.iter().map(exposed).collect()),
                offer_end_others: true,
                notice: Some("Added: signing in now asks for a code from this app."),
                ..Shown::default()
            };
            factors_view(&state, &nonce, &auth, StatusCode::OK, shown).await
        }
        Err(e) => {
            // The code box again (not the secret: it is shown once).
            let errors = match e {
                AppError::Invalid(_) | AppError::WrongCode { .. } => FormErrors {
                    field: Some("confirm_code".to_owned()),
                    message: e.message(),
                    general: None,
                },
                _ => FormErrors::from(&e),
            };
            let confirm_id = matches!(e, AppError::Invalid(_) | AppError::WrongCode { .. })
                .then_some(id.as_str());
            let shown = Shown {
                confirm_id,
                errors,
                ..Shown::default()
            };
            factors_view(&state, &nonce, &auth, e.problem().status(), shown).await
        }
    }
}
