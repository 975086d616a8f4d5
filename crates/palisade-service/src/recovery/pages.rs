//! `/password/forgot` (ask for a link) and `/password/reset?token=…` (the page the link
//! opens: a form; only its POST uses the link up, so a mail scanner opening the link
//! changes nothing). No script.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;
use palisade::http::ClientInfo;
use palisade::secret::SecretString;
use serde::Deserialize;

use crate::body::Form;
use crate::error::AppError;
use crate::mfa::Proof;
use crate::sessions::PresentedToken;
use crate::state::AppState;
use crate::web::{
    FormErrors, LinkQuery, allow_webauthn, passkey_nonce, render, see_other, with_retry_after,
};

#[derive(Template)]
#[template(path = "forgot_password.html")]
struct ForgotPage<'a> {
    site: &'a crate::web::Site,
    email: &'a str,
    done: Option<&'a str>,
    errors: FormErrors,
}

#[derive(Template)]
#[template(path = "reset_password.html")]
struct ResetPage<'a> {
    site: &'a crate::web::Site,
    /// The link's token, carried by the form; `None`: the link is not current.
    token: Option<&'a str>,
    second_factor: bool,
    /// The nonce of the passkey script, when a passkey may prove the second factor.
    passkey_nonce: Option<String>,
    errors: FormErrors,
}

/// The reset form for `token` (`None`: the link is not current), asking what `asks` says.
fn reset_view(
    state: &AppState,
    nonce: &palisade::http::CspNonce,
    status: StatusCode,
    token: Option<&str>,
    asks: super::Asks,
    errors: FormErrors,
) -> Response {
    let passkey = matches!(asks, super::Asks::SecondFactor { passkey: true });
    let page = render(
        status,
        &ResetPage {
            site: &state.site,
            token,
            second_factor: asks != super::Asks::Nothing,
            passkey_nonce: passkey.then(|| passkey_nonce(state, nonce)).flatten(),
            errors,
        },
    );
    if passkey {
        allow_webauthn(state, page)
    } else {
        page
    }
}

async fn forgot_page(State(state): State<AppState>) -> Response {
    render(
        StatusCode::OK,
        &ForgotPage {
            site: &state.site,
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
    let site = &*state.site;
    match super::request(&state, &form.email, &client).await {
        Ok(()) => render(
            StatusCode::OK,
            &ForgotPage {
                site,
                email: "",
                done: Some(super::api::REQUESTED),
                errors: FormErrors::default(),
            },
        ),
        Err(error) => with_retry_after(
            render(
                error.problem().status(),
                &ForgotPage {
                    site,
                    email: &form.email,
                    done: None,
                    errors: FormErrors::from(&error),
                },
            ),
            &error,
        ),
    }
}

/// Shows the form if the link is current. Reads, never uses up.
async fn reset_page(
    State(state): State<AppState>,
    nonce: palisade::http::CspNonce,
    axum::extract::Query(query): axum::extract::Query<LinkQuery>,
) -> Response {
    let Some(token) = query.token else {
        return see_other("/password/forgot");
    };
    let presented = PresentedToken::from_secret(token.duplicate());
    match super::inspect(&state, &presented).await {
        Ok(Some(asks)) => token.expose(|t| {
            reset_view(
                &state,
                &nonce,
                StatusCode::OK,
                Some(t),
                asks,
                FormErrors::default(),
            )
        }),
        Ok(None) => reset_view(
            &state,
            &nonce,
            StatusCode::BAD_REQUEST,
            None,
            super::Asks::Nothing,
            FormErrors::default(),
        ),
        Err(e) => e.into_response(),
    }
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
    nonce: palisade::http::CspNonce,
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
    // The link may still be good (a weak password, a wrong code): the form stays.
    let asks = match error {
        AppError::LinkExpired => None,
        _ => super::inspect(&state, &presented).await.ok().flatten(),
    };
    let status = error.problem().status();
    let errors = FormErrors::from(&error);
    let page = match asks {
        Some(asks) => form
            .token
            .expose(|t| reset_view(&state, &nonce, status, Some(t), asks, errors)),
        None => reset_view(&state, &nonce, status, None, super::Asks::Nothing, errors),
    };
    with_retry_after(page, &error)
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/password/forgot", get(forgot_page).post(forgot_submit))
        .route("/password/reset", get(reset_page).post(reset_submit))
}
