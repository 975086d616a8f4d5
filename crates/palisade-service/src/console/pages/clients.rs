//! `/admin/clients`: the OpenID provider's clients — listed, added (the secret shown once,
//! on a page that is not kept), a stored one's secret rotated or the client removed. Each
//! change asks for the administrator's second factor.

use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use http::StatusCode;
use palisade::http::ClientInfo;
use palisade::secret::SecretString;
use serde::Deserialize;

use super::Frame;
use crate::body::Form;
use crate::console::Actor;
use crate::console::access::ConsoleAdmin;
use crate::error::AppError;
use crate::oidc::{ClientSettings, ClientSummary};
use crate::sessions::IssuedToken;
use crate::state::AppState;
use crate::web::{FormErrors, check_form_token, render, sensitive};

struct ClientLine {
    id: String,
    name: String,
    kind: &'static str,
    stored: bool,
    confidential_stored: bool,
    redirect_uris: String,
    who: String,
}

impl From<ClientSummary> for ClientLine {
    fn from(c: ClientSummary) -> Self {
        let s = c.settings;
        let subjects = s.subject.values().to_vec();
        Self {
            kind: if s.public {
                "public"
            } else if s.jwks.is_some() {
                "confidential (keys)"
            } else {
                "confidential (secret)"
            },
            stored: c.source == "database",
            confidential_stored: c.source == "database" && c.has_secret,
            redirect_uris: s.redirect_uris.join(" "),
            who: format!(
                "{}{}",
                if subjects.is_empty() {
                    "anyone signed in".to_owned()
                } else {
                    subjects.join(", ")
                },
                if s.policy.as_deref() == Some("two_factor") {
                    ", with a second factor"
                } else {
                    ""
                }
            ),
            id: s.id,
            name: s.name,
        }
    }
}

#[derive(Template)]
#[template(path = "admin_clients.html")]
struct ClientsPage<'a> {
    site: &'a crate::web::Site,
    frame: Frame,
    clients: Vec<ClientLine>,
    /// A secret made just now: (client id, secret), shown this once.
    revealed: Option<(String, String)>,
    notice: Option<&'static str>,
    errors: FormErrors,
}

async fn view(
    state: &AppState,
    admin: &ConsoleAdmin,
    status: StatusCode,
    revealed: Option<(String, String)>,
    notice: Option<&'static str>,
    errors: FormErrors,
) -> Response {
    let clients = match state.console.clients(&state.oidc.clients).await {
        Ok(clients) => clients.into_iter().map(ClientLine::from).collect(),
        Err(e) => return e.into_response(),
    };
    sensitive(render(
        status,
        &ClientsPage {
            site: &state.site,
            frame: Frame::new(state, admin, "clients"),
            clients,
            revealed,
            notice,
            errors,
        },
    ))
}

pub(super) async fn page(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
) -> Response {
    view(
        &state,
        &admin,
        StatusCode::OK,
        None,
        None,
        FormErrors::default(),
    )
    .await
}

/// The add form: the common settings; the rest take their defaults (the command line and
/// the API take every setting).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AddForm {
    csrf: String,
    #[serde(default)]
    password: Option<SecretString>,
    #[serde(default)]
    code: Option<SecretString>,
    id: String,
    name: String,
    /// `confidential` or `public`.
    kind: String,
    /// One per line.
    redirect_uris: String,
    #[serde(default)]
    post_logout_redirect_uris: String,
    /// `user:NAME`/`group:NAME`, separated by spaces or commas; empty: anyone.
    #[serde(default)]
    subject: String,
    /// `authenticated` or `two_factor`.
    policy: String,
    #[serde(default)]
    first_party: Option<String>,
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn settings(form: &AddForm) -> Result<ClientSettings, AppError> {
    let public = match form.kind.as_str() {
        "public" => true,
        "confidential" => false,
        _ => {
            return Err(AppError::ClientRefused(
                "its kind must be confidential or public".into(),
            ));
        }
    };
    let subjects: Vec<String> = form
        .subject
        .split([' ', ',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let value = serde_json::json!({
        "id": form.id.trim(),
        "name": form.name.trim(),
        "public": public,
        "redirect_uris": lines(&form.redirect_uris),
        "post_logout_redirect_uris": lines(&form.post_logout_redirect_uris),
        "subject": subjects,
        "policy": form.policy.trim(),
        "first_party": form.first_party.is_some(),
    });
    serde_json::from_value(value).map_err(|e| AppError::ClientRefused(e.to_string()))
}

/// The form token and the administrator's fresh second factor (and password when stale).
async fn proved(
    state: &AppState,
    admin: &ConsoleAdmin,
    client: &ClientInfo,
    csrf: &str,
    password: Option<SecretString>,
    code: Option<SecretString>,
) -> Result<Option<IssuedToken>, AppError> {
    check_form_token(state, &admin.0, csrf)?;
    let proof = crate::mfa::pages::typed_proof(code, None)?;
    state
        .mfa
        .guard(
            &state.accounts,
            &state.keyring,
            &admin.0,
            password.filter(|p| !p.is_empty()),
            proof,
            client,
        )
        .await
}

fn answer(
    state: &AppState,
    jar: CookieJar,
    token: Option<IssuedToken>,
    page: Response,
) -> Response {
    let jar = state
        .accounts
        .sessions
        .cookies
        .set_renewed(jar, token.as_ref());
    (jar, page).into_response()
}

pub(super) async fn add(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    client: ClientInfo,
    jar: CookieJar,
    Form(mut form): Form<AddForm>,
) -> Response {
    let client_id = form.id.trim().to_owned();
    let (password, code) = (form.password.take(), form.code.take());
    let done = async {
        let settings = settings(&form)?;
        let token = proved(&state, &admin, &client, &form.csrf, password, code).await?;
        let address = client.addr.to_string();
        let actor = Actor::of(&admin.0.user, &address);
        let secret = state
            .console
            .add_client(&actor, &state.oidc.clients, settings)
            .await?;
        Ok::<_, AppError>((token, secret))
    }
    .await;
    match done {
        Ok((token, secret)) => {
            let revealed = secret.map(|s| (client_id, s.expose(str::to_owned)));
            let page = view(
                &state,
                &admin,
                StatusCode::CREATED,
                revealed,
                Some("The client is added."),
                FormErrors::default(),
            )
            .await;
            answer(&state, jar, token, page)
        }
        Err(e) => {
            let status = e.problem().status();
            view(&state, &admin, status, None, None, FormErrors::general(&e)).await
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ChangeForm {
    csrf: String,
    #[serde(default)]
    password: Option<SecretString>,
    #[serde(default)]
    code: Option<SecretString>,
}

pub(super) async fn change(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    client: ClientInfo,
    jar: CookieJar,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ChangeForm>,
) -> Response {
    if !matches!(action.as_str(), "rotate-secret" | "remove") {
        return AppError::NotFound.into_response();
    }
    let done = async {
        let token = proved(
            &state,
            &admin,
            &client,
            &form.csrf,
            form.password,
            form.code,
        )
        .await?;
        let address = client.addr.to_string();
        let actor = Actor::of(&admin.0.user, &address);
        let console = &state.console;
        let secret = if action == "remove" {
            console
                .remove_client(&actor, &state.oidc.clients, &id)
                .await?;
            None
        } else {
            Some(
                console
                    .rotate_client_secret(&actor, &state.oidc.clients, &id)
                    .await?,
            )
        };
        Ok::<_, AppError>((token, secret))
    }
    .await;
    match done {
        Ok((token, secret)) => {
            let notice = if secret.is_some() {
                "A new secret: the old one no longer works."
            } else {
                "The client is removed, with every grant and consent it had."
            };
            let revealed = secret.map(|s| (id.clone(), s.expose(str::to_owned)));
            let page = view(
                &state,
                &admin,
                StatusCode::OK,
                revealed,
                Some(notice),
                FormErrors::default(),
            )
            .await;
            answer(&state, jar, token, page)
        }
        Err(e) => {
            let status = e.problem().status();
            view(&state, &admin, status, None, None, FormErrors::general(&e)).await
        }
    }
}
