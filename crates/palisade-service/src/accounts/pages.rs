//! The account pages: sign in, create an account, the account page (password change,
//! sessions, sign out). Server-rendered with escaping, no script, usable without JavaScript.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use http::{HeaderMap, HeaderValue, StatusCode};
use palisade::http::ClientInfo;
use palisade::secret::SecretString;
use serde::Deserialize;

use super::{Registration, SignIn};
use crate::body::Form;
use crate::sessions::{Authenticated, MaybeAuth, MaybeSignedIn};
use crate::state::AppState;
use crate::web::{
    FormErrors, When, allow_webauthn, check_form_token, guarded, passkey_nonce, render, see_other,
};

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

struct SessionLine {
    id: String,
    current: bool,
    created: When,
    last_seen: When,
    client_addr: String,
    /// "Firefox on Linux".
    browser: String,
    /// The whole user-agent string, on hover.
    user_agent: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    site: &'a crate::web::Site,
    name: &'a str,
    username: &'a str,
    email: &'a str,
    email_verified: bool,
    sessions: Vec<SessionLine>,
    /// Apps with access (OpenID clients the user consented to).
    apps: Vec<crate::oidc::apps::AppAccess>,
    csrf: String,
    notice: Option<&'a str>,
    errors: FormErrors,
}

#[derive(Deserialize)]
struct Notice {
    registered: Option<String>,
    reset: Option<String>,
    /// `login`: the form even for a signed-in user (an app asked for a fresh sign-in).
    prompt: Option<String>,
    /// The account an app expects (OpenID's `login_hint`), put in the form.
    login_hint: Option<String>,
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

async fn login_page(
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
        general: match (q.registered, q.reset) {
            (Some(_), _) => Some("Your account is ready: sign in.".to_owned()),
            (None, Some(_)) => Some("Your password is changed: sign in with it.".to_owned()),
            (None, None) => None,
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
struct LoginForm {
    identifier: String,
    password: SecretString,
    rd: Option<String>,
}

async fn login_submit(
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
                super::browsers::new_sign_in(&state, jar, &user, &client, &agent),
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

async fn register_page(State(state): State<AppState>) -> Response {
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
struct RegisterForm {
    username: String,
    email: String,
    #[serde(default)]
    display_name: String,
    password: SecretString,
}

async fn register_submit(
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
        Ok(super::Registered::Account(_)) => see_other("/login?registered=1"),
        Ok(super::Registered::LinkSent) => super::signup_web::link_sent_page(&state),
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

pub(super) async fn account_view(
    state: &AppState,
    auth: &Authenticated,
    status: StatusCode,
    notice: Option<&str>,
    errors: FormErrors,
) -> Response {
    let sessions = match state.accounts.sessions.list(auth.user.id).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let now = state.accounts.clock.now();
    let sessions = sessions
        .into_iter()
        .map(|s| SessionLine {
            current: s.id == auth.session.id,
            created: When::at(s.created_at, now),
            last_seen: When::at(s.last_seen_at, now),
            id: s.id,
            client_addr: s.client_addr,
            browser: crate::web::describe_browser(&s.user_agent),
            user_agent: s.user_agent,
        })
        .collect();
    let apps = match state.oidc.apps_of(auth.user.id).await {
        Ok(apps) => apps,
        Err(e) => return e.into_response(),
    };
    render(
        status,
        &AccountPage {
            site: &state.site,
            name: auth
                .user
                .display_name
                .as_deref()
                .unwrap_or(&auth.user.username),
            username: &auth.user.username,
            email: &auth.user.email,
            email_verified: auth.user.email_verified_at.is_some(),
            sessions,
            apps,
            csrf: state.forms.token(auth.session.id.as_bytes()),
            notice,
            errors,
        },
    )
}

#[derive(Deserialize)]
struct AccountNotice {
    done: Option<String>,
}

async fn account(
    State(state): State<AppState>,
    MaybeAuth(auth): MaybeAuth,
    Query(q): Query<AccountNotice>,
) -> Response {
    let Some(auth) = auth else {
        return see_other("/login");
    };
    let notice = match q.done.as_deref() {
        Some("password") => Some(
            "Password changed. Every other session was signed out and every API token revoked.",
        ),
        Some("session") => Some("Session ended."),
        Some("others") => Some("Every other session was signed out."),
        Some("app") => Some("The app's access is revoked: every token it held for you has ended."),
        _ => None,
    };
    account_view(&state, &auth, StatusCode::OK, notice, FormErrors::default()).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordForm {
    csrf: String,
    current_password: SecretString,
    new_password: SecretString,
}

async fn password_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    MaybeAuth(auth): MaybeAuth,
    Form(form): Form<PasswordForm>,
) -> Response {
    let Some(auth) = auth else {
        return see_other("/login");
    };
    let result = guarded(
        &state,
        &auth,
        &form.csrf,
        state
            .accounts
            .change_password(&auth, form.current_password, form.new_password, &client),
    )
    .await;
    match result {
        Ok(token) => (
            state.accounts.sessions.cookies.set(jar, &token),
            see_other("/account?done=password"),
        )
            .into_response(),
        Err(error) => {
            account_view(
                &state,
                &auth,
                error.problem().status(),
                None,
                FormErrors::from(&error),
            )
            .await
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndSessionForm {
    csrf: String,
    #[serde(default)]
    password: Option<SecretString>,
    #[serde(default)]
    end: String,
}

async fn end_session_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    MaybeAuth(auth): MaybeAuth,
    Path(id): Path<String>,
    Form(form): Form<EndSessionForm>,
) -> Response {
    let Some(auth) = auth else {
        return see_other("/login");
    };
    let _ = form.end;
    let result = guarded(
        &state,
        &auth,
        &form.csrf,
        state
            .accounts
            .end_session(&auth, &id, form.password, &client),
    )
    .await;
    match result {
        Ok(Some(token)) => (
            state.accounts.sessions.cookies.set(jar, &token),
            see_other("/account?done=session"),
        )
            .into_response(),
        Ok(None) => see_other("/account?done=session"),
        Err(error) => {
            // The password box sits in each session's row: show the message at the top.
            let errors = FormErrors::general(&error);
            account_view(&state, &auth, error.problem().status(), None, errors).await
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndOthersForm {
    csrf: String,
    #[serde(default)]
    password: Option<SecretString>,
}

async fn end_others_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    MaybeAuth(auth): MaybeAuth,
    Form(form): Form<EndOthersForm>,
) -> Response {
    let Some(auth) = auth else {
        return see_other("/login");
    };
    let password = form.password.filter(|p| !p.is_empty());
    let result = guarded(
        &state,
        &auth,
        &form.csrf,
        state.accounts.end_other_sessions(&auth, password, &client),
    )
    .await;
    match result {
        Ok((_, reissued)) => {
            let jar = state
                .accounts
                .sessions
                .cookies
                .set_renewed(jar, reissued.as_ref());
            (jar, see_other("/account?done=others")).into_response()
        }
        Err(error) => {
            let errors = FormErrors::general(&error);
            account_view(&state, &auth, error.problem().status(), None, errors).await
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogoutForm {
    csrf: String,
}

async fn logout_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    MaybeSignedIn(auth): MaybeSignedIn,
    Form(form): Form<LogoutForm>,
) -> Response {
    if let Some(auth) = auth {
        if let Err(e) = check_form_token(&state, &auth, &form.csrf) {
            return account_view(
                &state,
                &auth,
                StatusCode::FORBIDDEN,
                None,
                FormErrors::from(&e),
            )
            .await;
        }
        if let Err(e) = state.accounts.logout(&auth, &client).await {
            return e.into_response();
        }
    }
    let mut response = (
        state.accounts.sessions.cookies.clear(jar),
        see_other("/login"),
    )
        .into_response();
    response.headers_mut().insert(
        "clear-site-data",
        HeaderValue::from_static("\"cache\", \"cookies\", \"storage\""),
    );
    response
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login_submit))
        .route("/register", get(register_page).post(register_submit))
        .route("/account", get(account))
        .route("/account/password", post(password_submit))
        .route("/account/sessions/{id}/end", post(end_session_submit))
        .route("/account/sessions/end-others", post(end_others_submit))
        .route("/logout", post(logout_submit))
}
