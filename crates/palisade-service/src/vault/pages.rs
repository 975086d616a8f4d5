//! The vault page, `/account/secrets`: store, reveal (escaped, after a recent password),
//! delete.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use http::StatusCode;
use palisade::http::ClientInfo;
use palisade::secret::SecretString;
use serde::Deserialize;

use askama::Template;

use super::{remove, reveal_value, store_value};
use crate::body::Form;
use crate::error::AppError;
use crate::sessions::{Authenticated, MaybeAuth};
use crate::state::AppState;
use crate::web::FormErrors;

struct SecretLine {
    name: String,
    updated: crate::web::When,
}

#[derive(Template)]
#[template(path = "secrets.html")]
struct SecretsPage<'a> {
    site: &'a crate::web::Site,
    secrets: Vec<SecretLine>,
    csrf: String,
    name: &'a str,
    revealed: Option<(&'a str, &'a str)>,
    notice: Option<&'a str>,
    errors: FormErrors,
}

async fn secret_lines(state: &AppState, auth: &Authenticated) -> Result<Vec<SecretLine>, AppError> {
    let list = super::names(state, auth).await?;
    let now = state.accounts.clock.now();
    Ok(list
        .into_iter()
        .map(|(name, t)| SecretLine {
            name,
            updated: crate::web::When::at(t, now),
        })
        .collect())
}

/// What the page shows besides the list.
#[derive(Default)]
struct Shown<'a> {
    name: &'a str,
    revealed: Option<(&'a str, &'a str)>,
    notice: Option<&'a str>,
    errors: FormErrors,
}

fn render_page(
    state: &AppState,
    auth: &Authenticated,
    status: StatusCode,
    secrets: Vec<SecretLine>,
    shown: Shown<'_>,
) -> Response {
    let template = SecretsPage {
        site: &state.site,
        secrets,
        csrf: state.forms.token(auth.session.id.as_bytes()),
        name: shown.name,
        revealed: shown.revealed,
        notice: shown.notice,
        errors: shown.errors,
    };
    crate::web::render(status, &template)
}

async fn page(
    state: &AppState,
    auth: &Authenticated,
    status: StatusCode,
    shown: Shown<'_>,
) -> Response {
    match secret_lines(state, auth).await {
        Ok(lines) => render_page(state, auth, status, lines, shown),
        Err(e) => e.into_response(),
    }
}

async fn secrets_page(State(state): State<AppState>, MaybeAuth(auth): MaybeAuth) -> Response {
    let Some(auth) = auth else {
        return crate::web::see_other("/login");
    };
    page(&state, &auth, StatusCode::OK, Shown::default()).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreForm {
    csrf: String,
    name: String,
    value: SecretString,
}

async fn store_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    MaybeAuth(auth): MaybeAuth,
    Form(form): Form<StoreForm>,
) -> Response {
    let Some(auth) = auth else {
        return crate::web::see_other("/login");
    };
    let value = form.value;
    let result = crate::web::guarded(
        &state,
        &auth,
        &form.csrf,
        store_value(&state, &auth, &client, &form.name, value),
    )
    .await;
    match result {
        Ok(()) => done(&state, &auth, "Stored.").await,
        Err(e) => {
            let shown = Shown {
                name: &form.name,
                errors: FormErrors::from(&e),
                ..Shown::default()
            };
            page(&state, &auth, e.problem().status(), shown).await
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NamedForm {
    csrf: String,
    #[serde(default)]
    password: Option<SecretString>,
}

async fn reveal_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    MaybeAuth(auth): MaybeAuth,
    Path(name): Path<String>,
    Form(form): Form<NamedForm>,
) -> Response {
    let Some(auth) = auth else {
        return crate::web::see_other("/login");
    };
    let result = crate::web::guarded(
        &state,
        &auth,
        &form.csrf,
        reveal_value(&state, &auth, &client, &name, form.password),
    )
    .await;
    match result {
        Ok((value, reissued)) => {
            let jar = match reissued {
                Some(t) => state.accounts.sessions.cookies.set(jar, &t),
                None => jar,
            };
            // The page's form token follows the session, which keeps its id on reissue.
            let lines = match secret_lines(&state, &auth).await {
                Ok(lines) => lines,
                Err(e) => return e.into_response(),
            };
            let response = value.expose(|v| {
                render_page(
                    &state,
                    &auth,
                    StatusCode::OK,
                    lines,
                    Shown {
                        revealed: Some((&name, v)),
                        ..Shown::default()
                    },
                )
            });
            (jar, response).into_response()
        }
        Err(e) => {
            let errors = FormErrors::general(&e);
            page(
                &state,
                &auth,
                e.problem().status(),
                Shown {
                    errors,
                    ..Shown::default()
                },
            )
            .await
        }
    }
}

async fn delete_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    MaybeAuth(auth): MaybeAuth,
    Path(name): Path<String>,
    Form(form): Form<NamedForm>,
) -> Response {
    let Some(auth) = auth else {
        return crate::web::see_other("/login");
    };
    let result = crate::web::guarded(
        &state,
        &auth,
        &form.csrf,
        remove(&state, &auth, &client, &name),
    )
    .await;
    match result {
        Ok(()) => done(&state, &auth, "Deleted.").await,
        Err(e) => {
            let errors = FormErrors::general(&e);
            page(
                &state,
                &auth,
                e.problem().status(),
                Shown {
                    errors,
                    ..Shown::default()
                },
            )
            .await
        }
    }
}

/// The page again, saying what was done.
async fn done(state: &AppState, auth: &Authenticated, notice: &'static str) -> Response {
    let shown = Shown {
        notice: Some(notice),
        ..Shown::default()
    };
    page(state, auth, StatusCode::OK, shown).await
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/account/secrets", get(secrets_page).post(store_submit))
        .route("/account/secrets/{name}/reveal", post(reveal_submit))
        .route("/account/secrets/{name}/delete", post(delete_submit))
}
