//! The account pages: sign in, create an account, the account page (password change,
//! sessions, sign out). Server-rendered with escaping, no script, usable without JavaScript.

mod sign_in;

pub(crate) use sign_in::{allow_form_to, return_to};

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use http::{HeaderValue, StatusCode};
use palisade::http::ClientInfo;
use palisade::secret::SecretString;
use serde::Deserialize;

use crate::body::Form;
use crate::sessions::{Authenticated, MaybeAuth, MaybeSignedIn};
use crate::state::AppState;
use crate::web::{FormErrors, When, check_form_token, guarded, render, see_other};

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
    /// The account was just deleted.
    deleted: Option<String>,
    /// `login`: the form even for a signed-in user (an app asked for a fresh sign-in).
    prompt: Option<String>,
    /// The account an app expects (OpenID's `login_hint`), put in the form.
    login_hint: Option<String>,
}

pub(crate) async fn account_view(
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
        .route(
            "/login",
            get(sign_in::login_page).post(sign_in::login_submit),
        )
        .route(
            "/register",
            get(sign_in::register_page).post(sign_in::register_submit),
        )
        .route("/account", get(account))
        .route("/account/password", post(password_submit))
        .route("/account/sessions/{id}/end", post(end_session_submit))
        .route("/account/sessions/end-others", post(end_others_submit))
        .route("/logout", post(logout_submit))
}
