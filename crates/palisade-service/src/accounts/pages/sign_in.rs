//! `/login` and `/register`: the forms, their errors beside their fields, and the way
//! back (`rd`) carried through them.

use super::*;
use crate::accounts::{Registration, SignIn};
use crate::body::Form;
use crate::sessions::MaybeAuth;
use crate::state::AppState;
use crate::web::{FormErrors, allow_webauthn, passkey_nonce, render, see_other};
use askama::Template;
use axum::extract::{Query, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use http::{HeaderMap, StatusCode};
use palisade::http::ClientInfo;
use palisade::secret::SecretString;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    site: &'a crate::web::Site,
    /// The nonce of the passkey script, when passkeys are offered.
    passkey_nonce: Option<String>,
    identifier: &'a str,
    /// Where to go after signing in (already checked), carried by the form.
    rd: Option<&'a str>,
    errors: FormErrors,
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage<'a> {
    site: &'a crate::web::Site,
    username: &'a str,
    email: &'a str,
    display_name: &'a str,
    errors: FormErrors,
}

/// The way back after signing in: the query's one `rd`, if the rules of `return_to`
/// allow it (two `rd`s: neither).
pub(crate) fn return_to(state: &AppState, query: Option<&str>) -> Option<String> {
    let mut rds = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(name, _)| name == "rd")
        .map(|(_, value)| value);
    match (rds.next(), rds.next()) {
        (Some(rd), None) => state.authz.return_to(&rd),
        _ => None,
    }
}

pub(super) async fn login_page(
    State(state): State<AppState>,
    nonce: palisade::http::CspNonce,
    MaybeAuth(auth): MaybeAuth,
    Query(q): Query<Notice>,
    RawQuery(query): RawQuery,
) -> Response {
    let rd = return_to(&state, query.as_deref());
    let fresh = q.prompt.as_deref() == Some("login");
    if auth.is_some() && !fresh {
        return see_other(rd.as_deref().unwrap_or("/account"));
    }
    let identifier = match (&auth, &q.login_hint) {
        (Some(auth), _) => auth.user.username.clone(),
        (None, Some(hint)) if hint.chars().count() <= 254 => hint.clone(),
        _ => String::new(),
    };
    let errors = FormErrors {
        general: match (q.registered, q.reset, q.deleted) {
            (Some(_), _, _) => Some("Your account is ready: sign in.".to_owned()),
            (None, Some(_), _) => Some("Your password is changed: sign in with it.".to_owned()),
            (None, None, Some(_)) => Some(
                "Your account is deleted, with everything it held. A last message went to its address."
                    .to_owned(),
            ),
            (None, None, None) => None,
        },
        ..FormErrors::default()
    };
    let page = render(
        StatusCode::OK,
        &LoginPage {
            site: &state.site,
            passkey_nonce: passkey_nonce(&state, &nonce),
            identifier: &identifier,
            rd: rd.as_deref(),
            errors,
        },
    );
    allow_webauthn(&state, allow_form_to(page, rd.as_deref()))
}

/// The login form leads (by the redirect after it) to `rd`'s origin: the page's
/// `form-action` must list it, or the browser stops the redirect.
pub(crate) fn allow_form_to(mut page: Response, rd: Option<&str>) -> Response {
    let origin = rd
        .and_then(|rd| url::Url::parse(rd).ok())
        .and_then(|url| palisade::http::FormActionOrigin::new(&url.origin().ascii_serialization()));
    if let Some(origin) = origin {
        page.extensions_mut().insert(origin);
    }
    page
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LoginForm {
    identifier: String,
    password: SecretString,
    rd: Option<String>,
}

pub(super) async fn login_submit(
    State(state): State<AppState>,
    nonce: palisade::http::CspNonce,
    client: ClientInfo,
    jar: CookieJar,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let agent = crate::web::user_agent(&headers);
    // Checked again: the form's field is the client's to change.
    let rd = form.rd.as_deref().and_then(|rd| state.authz.return_to(rd));
    match state
        .accounts
        .login(&form.identifier, form.password, &client, &agent)
        .await
    {
        Ok(SignIn::Session { token, user }) => (
            state.accounts.sessions.cookies.set(
                crate::accounts::browsers::new_sign_in(&state, jar, &user, &client, &agent),
                &token,
            ),
            see_other(rd.as_deref().unwrap_or("/account")),
        )
            .into_response(),
        Ok(SignIn::SecondStep { token, .. }) => {
            let next = match rd.as_deref() {
                Some(rd) => format!(
                    "/login/second-step?{}",
                    form_urlencoded::Serializer::new(String::new())
                        .append_pair("rd", rd)
                        .finish()
                ),
                None => "/login/second-step".to_owned(),
            };
            (
                state.accounts.sessions.cookies.set_pending(jar, &token),
                see_other(&next),
            )
                .into_response()
        }
        Err(error) => {
            let status = error.problem().status();
            let response = render(
                status,
                &LoginPage {
                    site: &state.site,
                    passkey_nonce: passkey_nonce(&state, &nonce),
                    identifier: &form.identifier,
                    rd: rd.as_deref(),
                    errors: FormErrors::from(&error),
                },
            );
            let response = crate::web::with_retry_after(response, &error);
            allow_webauthn(&state, allow_form_to(response, rd.as_deref()))
        }
    }
}

pub(super) async fn register_page(State(state): State<AppState>) -> Response {
    render(
        StatusCode::OK,
        &RegisterPage {
            site: &state.site,
            username: "",
            email: "",
            display_name: "",
            errors: FormErrors::default(),
        },
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RegisterForm {
    username: String,
    email: String,
    #[serde(default)]
    display_name: String,
    password: SecretString,
}

pub(super) async fn register_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    Form(form): Form<RegisterForm>,
) -> Response {
    let registration = Registration {
        username: form.username.clone(),
        email: form.email.clone(),
        password: form.password,
        display_name: Some(form.display_name.clone()),
    };
    match state.accounts.register(registration, &client).await {
        Ok(crate::accounts::Registered::Account(_)) => see_other("/login?registered=1"),
        Ok(crate::accounts::Registered::LinkSent) => {
            crate::accounts::signup_web::link_sent_page(&state)
        }
        Err(error) => render(
            error.problem().status(),
            &RegisterPage {
                site: &state.site,
                username: &form.username,
                email: &form.email,
                display_name: &form.display_name,
                errors: FormErrors::from(&error),
            },
        ),
    }
}
