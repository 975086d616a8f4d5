//! `/login/second-step`: the page between the password and the session when the account
//! has a second factor.

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_extra::extract::CookieJar;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use palisade::http::ClientInfo;
use palisade::secret::SecretString;
use serde::Deserialize;

use super::Proof;
use super::api::PendingToken;
use crate::accounts::pages::{allow_form_to, return_to};
use crate::body::Form;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::{FormErrors, render, see_other, user_agent};

#[derive(Template)]
#[template(path = "second_step.html")]
struct SecondStepPage<'a> {
    site_name: &'a str,
    rd: Option<&'a str>,
    /// `?rd=…` (or nothing) for the link back to the login page.
    login_query: String,
    /// The pending login is gone: only "sign in again" is offered.
    expired: bool,
    errors: FormErrors,
}

fn page(
    state: &AppState,
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
            site_name: &state.accounts.site_name,
            rd,
            login_query,
            expired,
            errors,
        },
    );
    allow_form_to(page, rd)
}

async fn second_step_page(
    State(state): State<AppState>,
    PendingToken(pending): PendingToken,
    RawQuery(query): RawQuery,
) -> Response {
    let rd = return_to(&state, query.as_deref());
    if pending.is_none() {
        return see_other("/login");
    }
    page(
        &state,
        StatusCode::OK,
        rd.as_deref(),
        false,
        FormErrors::default(),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecondStepForm {
    #[serde(default)]
    code: Option<SecretString>,
    #[serde(default)]
    recovery_code: Option<SecretString>,
    rd: Option<String>,
}

async fn second_step_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    headers: HeaderMap,
    PendingToken(pending): PendingToken,
    Form(form): Form<SecondStepForm>,
) -> Response {
    // Checked again: the form's field is the client's to change.
    let rd = form.rd.as_deref().and_then(|rd| state.authz.return_to(rd));
    let result = async {
        let proof = Proof::from_fields(form.code, form.recovery_code)?
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
        Ok((token, _)) => {
            let cookies = &state.accounts.sessions.cookies;
            let jar = cookies.set(cookies.clear_pending(jar), &token);
            (jar, see_other(rd.as_deref().unwrap_or("/account"))).into_response()
        }
        Err(error) => {
            let status = error.problem().status();
            let expired = matches!(error, AppError::LoginExpired);
            let errors = FormErrors::from(&error);
            let mut response = page(&state, status, rd.as_deref(), expired, errors);
            if let AppError::Throttled { retry_after } = error {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            response
        }
    }
}

pub(crate) fn router() -> Router<AppState> {
    Router::new().route(
        "/login/second-step",
        get(second_step_page).post(second_step_submit),
    )
}
