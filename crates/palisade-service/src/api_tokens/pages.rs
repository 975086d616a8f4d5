//! `/account/tokens`: create (the token shown once, on a page that is not cached), list,
//! revoke.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use http::StatusCode;
use palisade::http::ClientInfo;
use palisade::secret::SecretString;
use serde::Deserialize;

use crate::body::Form;
use crate::error::AppError;
use crate::sessions::{Authenticated, MaybeAuth};
use crate::state::AppState;
use crate::web::{FormErrors, When, guarded, see_other};

struct TokenLine {
    id: String,
    name: String,
    admin: bool,
    created: When,
    expires: Option<When>,
    last_used: Option<When>,
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage<'a> {
    site: &'a crate::web::Site,
    tokens: Vec<TokenLine>,
    csrf: String,
    /// An administrator may make tokens for the admin API.
    is_admin: bool,
    name: &'a str,
    created: Option<(&'a str, &'a str)>,
    notice: Option<&'a str>,
    errors: FormErrors,
}

#[derive(Default)]
struct Shown<'a> {
    name: &'a str,
    created: Option<(&'a str, &'a str)>,
    notice: Option<&'a str>,
    errors: FormErrors,
}

async fn lines(state: &AppState, auth: &Authenticated) -> Result<Vec<TokenLine>, AppError> {
    let now = state.accounts.clock.now();
    Ok(state
        .api_tokens
        .list(auth)
        .await?
        .into_iter()
        .map(|t| TokenLine {
            id: t.id,
            admin: t.scope == "admin",
            name: t.name,
            created: When::at(t.created_at, now),
            expires: t.expires_at.map(|e| When::at(e, now)),
            last_used: t.last_used_at.map(|u| When::at(u, now)),
        })
        .collect())
}

/// The tokens and whether their owner administers (who may make admin-scoped ones).
struct Listed {
    tokens: Vec<TokenLine>,
    is_admin: bool,
}

async fn listed(state: &AppState, auth: &Authenticated) -> Result<Listed, AppError> {
    Ok(Listed {
        tokens: lines(state, auth).await?,
        is_admin: state.console.is_admin(auth.user.id).await?,
    })
}

fn render(
    state: &AppState,
    auth: &Authenticated,
    status: StatusCode,
    listed: Listed,
    shown: Shown<'_>,
) -> Response {
    crate::web::render(
        status,
        &TokensPage {
            site: &state.site,
            tokens: listed.tokens,
            is_admin: listed.is_admin,
            csrf: state.forms.token(auth.session.id.as_bytes()),
            name: shown.name,
            created: shown.created,
            notice: shown.notice,
            errors: shown.errors,
        },
    )
}

async fn page(
    state: &AppState,
    auth: &Authenticated,
    status: StatusCode,
    shown: Shown<'_>,
) -> Response {
    match listed(state, auth).await {
        Ok(listed) => render(state, auth, status, listed, shown),
        Err(e) => e.into_response(),
    }
}

async fn tokens_page(State(state): State<AppState>, MaybeAuth(auth): MaybeAuth) -> Response {
    let Some(auth) = auth else {
        return see_other("/login");
    };
    page(&state, &auth, StatusCode::OK, Shown::default()).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateForm {
    csrf: String,
    name: String,
    #[serde(default)]
    expires_in_days: String,
    #[serde(default)]
    password: Option<SecretString>,
    /// An administrator's token for the admin API too (`admin`).
    #[serde(default)]
    scope: Option<String>,
    /// A second factor (needed for the admin scope).
    #[serde(default)]
    code: Option<SecretString>,
}

fn days(text: &str) -> Result<Option<u32>, AppError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    text.trim().parse::<u32>().map(Some).map_err(|_| {
        palisade::validate::ValidationError::new(
            "expires_in_days",
            palisade::validate::Rule::Format("must be between 1 and 366, or empty for no expiry"),
        )
        .into()
    })
}

async fn create_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    MaybeAuth(auth): MaybeAuth,
    Form(form): Form<CreateForm>,
) -> Response {
    let Some(auth) = auth else {
        return see_other("/login");
    };
    let password = form.password.filter(|p| !p.is_empty());
    let result = guarded(&state, &auth, &form.csrf, async {
        let days = days(&form.expires_in_days)?;
        let scope = super::Scope::parse(form.scope.as_deref())?;
        let proof = crate::mfa::pages::typed_proof(form.code, None)?;
        let proved = super::api::proved_for(&state, &auth, scope, password, proof, &client).await?;
        state
            .api_tokens
            .create(
                &state.accounts,
                &auth,
                super::Wanted {
                    name: &form.name,
                    days,
                    scope,
                },
                proved,
                &client,
            )
            .await
    })
    .await;
    match result {
        Ok(created) => {
            let jar = state
                .accounts
                .sessions
                .cookies
                .set_renewed(jar, created.reissued.as_ref());
            let tokens = match listed(&state, &auth).await {
                Ok(listed) => listed,
                Err(e) => return e.into_response(),
            };
            // The page's form token follows the session, which keeps its id on reissue.
            let page = created.token.expose(|token| {
                let shown = Shown {
                    created: Some((&created.row.name, token)),
                    ..Shown::default()
                };
                render(&state, &auth, StatusCode::CREATED, tokens, shown)
            });
            (jar, crate::web::sensitive(page)).into_response()
        }
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
struct RevokeForm {
    csrf: String,
}

async fn revoke_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    MaybeAuth(auth): MaybeAuth,
    Path(id): Path<String>,
    Form(form): Form<RevokeForm>,
) -> Response {
    let Some(auth) = auth else {
        return see_other("/login");
    };
    let result = guarded(
        &state,
        &auth,
        &form.csrf,
        state
            .api_tokens
            .revoke(&state.accounts, &auth, &id, &client),
    )
    .await;
    match result {
        Ok(()) => {
            let shown = Shown {
                notice: Some("Revoked: it no longer works anywhere."),
                ..Shown::default()
            };
            page(&state, &auth, StatusCode::OK, shown).await
        }
        Err(e) => {
            let shown = Shown {
                errors: FormErrors::from(&e),
                ..Shown::default()
            };
            page(&state, &auth, e.problem().status(), shown).await
        }
    }
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/account/tokens", get(tokens_page).post(create_submit))
        .route("/account/tokens/{id}/revoke", post(revoke_submit))
}
