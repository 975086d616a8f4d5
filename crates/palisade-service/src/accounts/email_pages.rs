//! `/account/verify-email` (where `require_verified_email` keeps a user until their
//! address is confirmed; sends the link again), `/account/email` (the account page's
//! change-of-address form) and `/email/confirm?token=…` (the page a link opens: a button;
//! only its POST uses the link up, so a mail scanner opening the link changes nothing).

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;
use palisade::http::ClientInfo;
use palisade::secret::SecretString;
use serde::Deserialize;

use super::email::Confirmed;
use super::pages::account_view;
use crate::body::Form;
use crate::error::AppError;
use crate::sessions::{Authenticated, MaybeSignedIn, PresentedToken};
use crate::state::AppState;
use crate::web::{FormErrors, LinkQuery, guarded, render, see_other};

#[derive(Template)]
#[template(path = "verify_email.html")]
struct VerifyPage<'a> {
    site: &'a crate::web::Site,
    email: &'a str,
    csrf: String,
    notice: Option<&'a str>,
    errors: FormErrors,
}

#[derive(Template)]
#[template(path = "confirm_email.html")]
struct ConfirmPage<'a> {
    site: &'a crate::web::Site,
    /// The link's token, carried by the form; `None`: the link is not current.
    token: Option<&'a str>,
    email: &'a str,
    done: Option<&'a str>,
    errors: FormErrors,
}

async fn verify_page(
    State(state): State<AppState>,
    MaybeSignedIn(auth): MaybeSignedIn,
) -> Response {
    let Some(auth) = auth else {
        return see_other("/login");
    };
    if auth.user.email_verified_at.is_some() {
        return see_other("/account");
    }
    verify_view(&state, &auth, StatusCode::OK, None, FormErrors::default())
}

fn verify_view(
    state: &AppState,
    auth: &Authenticated,
    status: StatusCode,
    notice: Option<&str>,
    errors: FormErrors,
) -> Response {
    render(
        status,
        &VerifyPage {
            site: &state.site,
            email: &auth.user.email,
            csrf: state.forms.token(auth.session.id.as_bytes()),
            notice,
            errors,
        },
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CsrfForm {
    csrf: String,
}

async fn resend_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    MaybeSignedIn(auth): MaybeSignedIn,
    Form(form): Form<CsrfForm>,
) -> Response {
    let Some(auth) = auth else {
        return see_other("/login");
    };
    let outcome = guarded(
        &state,
        &auth,
        &form.csrf,
        state.accounts.send_verification(&auth.user, &client),
    )
    .await;
    match outcome {
        Ok(true) => verify_view(
            &state,
            &auth,
            StatusCode::OK,
            Some("A new link is on its way."),
            FormErrors::default(),
        ),
        Ok(false) => see_other("/account"),
        Err(e) => verify_view(
            &state,
            &auth,
            e.problem().status(),
            None,
            FormErrors::general(&e),
        ),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeForm {
    csrf: String,
    new_email: String,
    password: SecretString,
}

async fn change_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    MaybeSignedIn(auth): MaybeSignedIn,
    Form(form): Form<ChangeForm>,
) -> Response {
    let Some(auth) = auth else {
        return see_other("/login");
    };
    // A user kept to the confirmation page changes a mistyped address from there.
    let from_verify_page = state.accounts.sessions.needs_verified_email(&auth);
    let outcome = guarded(
        &state,
        &auth,
        &form.csrf,
        state
            .accounts
            .request_email_change(&auth, &form.new_email, form.password, &client),
    )
    .await;
    let (status, notice, errors) = match outcome {
        Ok(()) => (
            StatusCode::OK,
            Some("A link is on its way to the new address: your address changes when you open it."),
            FormErrors::default(),
        ),
        Err(e) => (e.problem().status(), None, FormErrors::from(&e)),
    };
    if from_verify_page {
        verify_view(&state, &auth, status, notice, errors)
    } else {
        account_view(&state, &auth, status, notice, errors).await
    }
}

/// Shows the button if the link is current. Reads, never uses up.
async fn confirm_page(State(state): State<AppState>, Query(query): Query<LinkQuery>) -> Response {
    let site = &*state.site;
    let Some(token) = query.token else {
        return see_other("/account");
    };
    let link = match state
        .accounts
        .email_link(&PresentedToken::from_secret(token.duplicate()))
        .await
    {
        Ok(link) => link,
        Err(e) => return e.into_response(),
    };
    token.expose(|t| {
        render(
            if link.is_some() {
                StatusCode::OK
            } else {
                StatusCode::BAD_REQUEST
            },
            &ConfirmPage {
                site,
                token: link.as_ref().map(|_| t),
                email: link.as_ref().map_or("", |l| l.email.as_str()),
                done: None,
                errors: FormErrors::default(),
            },
        )
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmForm {
    token: SecretString,
}

async fn confirm_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    Form(form): Form<ConfirmForm>,
) -> Response {
    let site = &*state.site;
    let token = PresentedToken::from_secret(form.token);
    let (status, done, errors) = match state.accounts.confirm_email(&token, &client).await {
        Ok(Confirmed::Verified) => (
            StatusCode::OK,
            Some("Your email address is confirmed."),
            FormErrors::default(),
        ),
        Ok(Confirmed::Changed) => (
            StatusCode::OK,
            Some("Your account now uses this address."),
            FormErrors::default(),
        ),
        Err(e @ AppError::LinkExpired) => (e.problem().status(), None, FormErrors::default()),
        Err(e) => (e.problem().status(), None, FormErrors::general(&e)),
    };
    render(
        status,
        &ConfirmPage {
            site,
            token: None,
            email: "",
            done,
            errors,
        },
    )
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/account/verify-email",
            get(verify_page).post(resend_submit),
        )
        .route("/account/email", post(change_submit))
        .route("/email/confirm", get(confirm_page).post(confirm_submit))
}
