//! `/password/forgot` (ask for a link) and `/password/reset?token=…` (the page the link
//! opens: a form; only its POST uses the link up, so a mail scanner opening the link
//! changes nothing). No script.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, StatusCode, header};
use palisade::http::ClientInfo;
use palisade::secret::SecretString;
use serde::Deserialize;

use crate::body::Form;
use crate::error::AppError;
use crate::mfa::Proof;
use crate::sessions::PresentedToken;
use crate::state::AppState;
use crate::web::{FormErrors, render, see_other};

#[derive(Template)]
#[template(path = "forgot_password.html")]
struct ForgotPage<'a> {
    site_name: &'a str,
    email: &'a str,
    done: Option<&'a str>,
    errors: FormErrors,
}

#[derive(Template)]
#[template(path = "reset_password.html")]
struct ResetPage<'a> {
    site_name: &'a str,
    /// The link's token, carried by the form; `None`: the link is not current.
    token: Option<&'a str>,
    second_factor: bool,
    errors: FormErrors,
}

fn throttled(mut response: Response, error: &AppError) -> Response {
    if let AppError::Throttled { retry_after } = error {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
    }
    response
}

async fn forgot_page(State(state): State<AppState>) -> Response {
    render(
        StatusCode::OK,
        &ForgotPage {
            site_name: &state.accounts.site_name,
            email: "",
            done: None,
            errors: FormErrors::default(),
        },
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForgotForm {
    email: String,
}

async fn forgot_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    Form(form): Form<ForgotForm>,
) -> Response {
    let site_name = &state.accounts.site_name;
    match super::request(&state, &form.email, &client).await {
        Ok(()) => render(
            StatusCode::OK,
            &ForgotPage {
                site_name,
                email: "",
                done: Some(super::api::REQUESTED),
                errors: FormErrors::default(),
            },
        ),
        Err(error) => throttled(
            render(
                error.problem().status(),
                &ForgotPage {
                    site_name,
                    email: &form.email,
                    done: None,
                    errors: FormErrors::from(&error),
                },
            ),
            &error,
        ),
    }
}

#[derive(Deserialize)]
struct LinkQuery {
    token: Option<SecretString>,
}

/// Shows the form if the link is current. Reads, never uses up.
async fn reset_page(
    State(state): State<AppState>,
    axum::extract::Query(query): axum::extract::Query<LinkQuery>,
) -> Response {
    let site_name = &state.accounts.site_name;
    let Some(token) = query.token else {
        return see_other("/password/forgot");
    };
    let presented = PresentedToken::from_secret(token.duplicate());
    let second_factor = match super::inspect(&state, &presented).await {
        Ok(Some(second_factor)) => second_factor,
        Ok(None) => {
            return render(
                StatusCode::BAD_REQUEST,
                &ResetPage {
                    site_name,
                    token: None,
                    second_factor: false,
                    errors: FormErrors::default(),
                },
            );
        }
        Err(e) => return e.into_response(),
    };
    token.expose(|t| {
        render(
            StatusCode::OK,
            &ResetPage {
                site_name,
                token: Some(t),
                second_factor,
                errors: FormErrors::default(),
            },
        )
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetForm {
    token: SecretString,
    new_password: SecretString,
    code: Option<SecretString>,
    recovery_code: Option<SecretString>,
}

async fn reset_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    Form(form): Form<ResetForm>,
) -> Response {
    // Empty fields of the form are fields not given.
    let given = |s: Option<SecretString>| s.filter(|s| !s.is_empty());
    let presented = PresentedToken::from_secret(form.token.duplicate());
    let outcome = match Proof::from_fields(given(form.code), given(form.recovery_code), None) {
        Ok(proof) => super::complete(&state, &presented, form.new_password, proof, &client).await,
        Err(e) => Err(e),
    };
    let error = match outcome {
        Ok(_) => return see_other("/login?reset=1"),
        Err(error) => error,
    };
    let site_name = &state.accounts.site_name;
    let current = !matches!(error, AppError::LinkExpired);
    let second_factor =
        current && matches!(super::inspect(&state, &presented).await, Ok(Some(true)));
    let page = form.token.expose(|t| {
        render(
            error.problem().status(),
            &ResetPage {
                site_name,
                token: current.then_some(t),
                second_factor,
                errors: FormErrors::from(&error),
            },
        )
    });
    throttled(page, &error)
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/password/forgot", get(forgot_page).post(forgot_submit))
        .route("/password/reset", get(reset_page).post(reset_submit))
}
