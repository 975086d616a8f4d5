//! `/login/second-step`: the page between the password and the session when the account
//! has a second factor.

use crate::accounts::pages::{allow_form_to, return_to};
use crate::body::Form;
use crate::error::AppError;
use crate::mfa::Proof;
use crate::mfa::api::PendingToken;
use crate::state::AppState;
use crate::web::{FormErrors, allow_webauthn, passkey_nonce, render, see_other, user_agent};
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use http::{HeaderMap, StatusCode};
use palisade::http::ClientInfo;
use palisade::http::CspNonce;
use palisade::secret::SecretString;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "second_step.html")]
struct SecondStepPage<'a> {
    site: &'a crate::web::Site,
    passkey_nonce: Option<String>,
    rd: Option<&'a str>,
    /// `?rd=…` (or nothing) for the link back to the login page.
    login_query: String,
    /// The pending login is gone: only "sign in again" is offered.
    expired: bool,
    errors: FormErrors,
}

fn page(
    state: &AppState,
    nonce: &CspNonce,
    status: StatusCode,
    rd: Option<&str>,
    expired: bool,
    errors: FormErrors,
) -> Response {
    let login_query = rd.map_or_else(String::new, |rd| {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("rd", rd)
            .finish();
        format!("?{query}")
    });
    let page = render(
        status,
        &SecondStepPage {
            site: &state.site,
            passkey_nonce: passkey_nonce(state, nonce),
            rd,
            login_query,
            expired,
            errors,
        },
    );
    allow_webauthn(state, allow_form_to(page, rd))
}

pub(super) async fn second_step_page(
    State(state): State<AppState>,
    nonce: CspNonce,
    PendingToken(pending): PendingToken,
    RawQuery(query): RawQuery,
) -> Response {
    let rd = return_to(&state, query.as_deref());
    if pending.is_none() {
        return see_other("/login");
    }
    page(
        &state,
        &nonce,
        StatusCode::OK,
        rd.as_deref(),
        false,
        FormErrors::default(),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SecondStepForm {
    #[serde(default)]
    code: Option<SecretString>,
    #[serde(default)]
    recovery_code: Option<SecretString>,
    rd: Option<String>,
}

pub(super) async fn second_step_submit(
    State(state): State<AppState>,
    nonce: CspNonce,
    client: ClientInfo,
    jar: CookieJar,
    headers: HeaderMap,
    PendingToken(pending): PendingToken,
    Form(form): Form<SecondStepForm>,
) -> Response {
    // Checked again: the form's field is the client's to change.
    let rd = form.rd.as_deref().and_then(|rd| state.authz.return_to(rd));
    let result = async {
        let proof = Proof::from_fields(form.code, form.recovery_code, None)?
            .ok_or(AppError::SecondFactorRequired)?;
        state
            .mfa
            .second_step(
                &state.accounts,
                &state.keyring,
                pending,
                proof,
                &client,
                &user_agent(&headers),
            )
            .await
    }
    .await;
    match result {
        Ok((token, user)) => {
            let cookies = &state.accounts.sessions.cookies;
            let jar = crate::accounts::browsers::new_sign_in(
                &state,
                cookies.clear_pending(jar),
                &user,
                &client,
                &user_agent(&headers),
            );
            let jar = cookies.set(jar, &token);
            (jar, see_other(rd.as_deref().unwrap_or("/account"))).into_response()
        }
        Err(error) => {
            let status = error.problem().status();
            let expired = matches!(error, AppError::LoginExpired);
            let errors = FormErrors::from(&error);
            let response = page(&state, &nonce, status, rd.as_deref(), expired, errors);
            crate::web::with_retry_after(response, &error)
        }
    }
}
