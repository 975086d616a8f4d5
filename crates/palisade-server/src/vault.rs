//! The vault API: each user's named secrets, sealed before they reach the database.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::CookieJar;
use http::StatusCode;
use palisade::http::ClientInfo;
use palisade::secret::{FernetError, SecretString, sealed_key_id};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use askama::Template;

use crate::api::sensitive;
use crate::body::{ApiJson, Form};
use crate::error::AppError;
use crate::sessions::{Auth, Authenticated, IssuedToken, MaybeAuth, session_cookie};
use crate::state::AppState;
use crate::web::FormErrors;

/// Largest secret value, in bytes.
const MAX_VALUE_BYTES: usize = 16 * 1024;

/// A secret's name: 1 to 64 of `A-Z a-z 0-9 . _ -`.
fn check_name(name: &str) -> Result<(), AppError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(AppError::Body {
            field: Some("name".into()),
            status: StatusCode::UNPROCESSABLE_ENTITY,
        })
    }
}

/// The associated data binding a sealed value to its owner and name.
pub(crate) fn aad(owner: i64, name: &str) -> Vec<u8> {
    format!("palisade-vault\0{owner}\0{name}").into_bytes()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PutSecret {
    #[schema(value_type = String)]
    value: SecretString,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevealRequest {
    /// Needed when the last password entry is older than the re-authentication window.
    #[schema(value_type = Option<String>)]
    password: Option<SecretString>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SecretListItem {
    name: String,
    updated_at: i64,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Revealed {
    name: String,
    value: String,
    /// Present when the password was re-entered: this session's new token.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    token: Option<IssuedToken>,
}

/// Seals and stores a value (created or replaced).
async fn store_value(
    state: &AppState,
    auth: &Authenticated,
    client: &ClientInfo,
    name: &str,
    value: SecretString,
) -> Result<(), AppError> {
    check_name(name)?;
    if value.is_empty() || value.len() > MAX_VALUE_BYTES {
        return Err(AppError::Body {
            field: Some("value".into()),
            status: StatusCode::UNPROCESSABLE_ENTITY,
        });
    }
    let sealed = value
        .expose(|v| state.keyring.seal(v.as_bytes(), &aad(auth.user.id, name)))
        .map_err(|e| AppError::internal(format_args!("sealing: {e}")))?;
    let key_id = sealed_key_id(&sealed).unwrap_or_default().to_owned();
    state
        .accounts
        .store
        .put_secret(
            auth.user.id,
            name,
            &sealed,
            &key_id,
            state.accounts.clock.now(),
        )
        .await?;
    state
        .accounts
        .audit(
            "secret_stored",
            Some(auth.user.id),
            Some(&auth.user.username),
            Some(client),
            Some(name),
        )
        .await;
    Ok(())
}

/// Opens a value after checking the password entry is recent (or the password given).
/// A value that does not open is reported (audit event) and refused, never returned
/// garbled.
async fn reveal_value(
    state: &AppState,
    auth: &Authenticated,
    client: &ClientInfo,
    name: &str,
    password: Option<SecretString>,
) -> Result<(SecretString, Option<IssuedToken>), AppError> {
    check_name(name)?;
    let reissued = state
        .accounts
        .require_recent_password(auth, password)
        .await?;
    let sealed = state
        .accounts
        .store
        .secret(auth.user.id, name)
        .await?
        .ok_or(AppError::NotFound)?;
    let value = match state.keyring.open(&sealed, &aad(auth.user.id, name)) {
        Ok(v) => v,
        Err(e) => {
            let detail = match &e {
                FernetError::UnknownKey(id) => {
                    format!("{name}: sealed with key {id}, which is not loaded")
                }
                _ => format!("{name}: does not open (tampered with or moved)"),
            };
            state
                .accounts
                .audit(
                    "secret_unreadable",
                    Some(auth.user.id),
                    Some(&auth.user.username),
                    Some(client),
                    Some(&detail),
                )
                .await;
            return Err(AppError::internal(format_args!("vault: {detail}")));
        }
    };
    let value = SecretString::from_utf8(value)
        .ok_or_else(|| AppError::internal("vault: value is not UTF-8"))?;
    state
        .accounts
        .audit(
            "secret_revealed",
            Some(auth.user.id),
            Some(&auth.user.username),
            Some(client),
            Some(name),
        )
        .await;
    Ok((value, reissued))
}

async fn remove(
    state: &AppState,
    auth: &Authenticated,
    client: &ClientInfo,
    name: &str,
) -> Result<(), AppError> {
    check_name(name)?;
    if !state
        .accounts
        .store
        .delete_secret(auth.user.id, name)
        .await?
    {
        return Err(AppError::NotFound);
    }
    state
        .accounts
        .audit(
            "secret_deleted",
            Some(auth.user.id),
            Some(&auth.user.username),
            Some(client),
            Some(name),
        )
        .await;
    Ok(())
}

#[utoipa::path(get, path = "/api/v1/secrets", responses((status = 200, body = [SecretListItem]), (status = 401)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(auth): Auth,
) -> Result<Response, AppError> {
    let names = state.accounts.store.secret_names(auth.user.id).await?;
    Ok(sensitive(Json(
        names
            .into_iter()
            .map(|(name, updated_at)| SecretListItem { name, updated_at })
            .collect::<Vec<_>>(),
    )))
}

#[utoipa::path(put, path = "/api/v1/secrets/{name}", request_body = PutSecret, params(("name" = String, Path)),
    responses((status = 204, description = "stored (created or replaced)"), (status = 401), (status = 422)))]
pub(crate) async fn put(
    State(state): State<AppState>,
    client: ClientInfo,
    Auth(auth): Auth,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<PutSecret>,
) -> Result<Response, AppError> {
    store_value(&state, &auth, &client, &name, body.value).await?;
    Ok(sensitive(StatusCode::NO_CONTENT))
}

#[utoipa::path(post, path = "/api/v1/secrets/{name}/reveal", request_body(content = RevealRequest, description = "optional"), params(("name" = String, Path)),
    responses((status = 200, body = Revealed), (status = 403, description = "password re-entry required"), (status = 404)))]
pub(crate) async fn reveal(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    Auth(auth): Auth,
    Path(name): Path<String>,
    body: Option<ApiJson<RevealRequest>>,
) -> Result<Response, AppError> {
    let password = body.and_then(|ApiJson(b)| b.password);
    let (value, reissued) = reveal_value(&state, &auth, &client, &name, password).await?;
    let token = reissued;
    let jar = match &token {
        Some(t) => jar.add(session_cookie(t)),
        None => jar,
    };
    Ok(sensitive((
        jar,
        value.expose(|v| {
            Json(Revealed {
                name,
                value: v.to_owned(),
                token,
            })
        }),
    )))
}

#[utoipa::path(delete, path = "/api/v1/secrets/{name}", params(("name" = String, Path)), responses((status = 204), (status = 404)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    client: ClientInfo,
    Auth(auth): Auth,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    remove(&state, &auth, &client, &name).await?;
    Ok(sensitive(StatusCode::NO_CONTENT))
}

struct SecretLine {
    name: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "secrets.html")]
struct SecretsPage<'a> {
    site_name: &'a str,
    secrets: Vec<SecretLine>,
    csrf: String,
    name: &'a str,
    revealed: Option<(&'a str, &'a str)>,
    notice: Option<&'a str>,
    errors: FormErrors,
}

async fn secret_lines(state: &AppState, auth: &Authenticated) -> Result<Vec<SecretLine>, AppError> {
    let list = state.accounts.store.secret_names(auth.user.id).await?;
    Ok(list
        .into_iter()
        .map(|(name, t)| SecretLine {
            name,
            updated: crate::web::utc(t),
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
        site_name: &state.accounts.site_name,
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
        Ok(()) => {
            page(
                &state,
                &auth,
                StatusCode::OK,
                Shown {
                    notice: Some("Stored."),
                    ..Shown::default()
                },
            )
            .await
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
                Some(t) => jar.add(session_cookie(&t)),
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
        Ok(()) => {
            page(
                &state,
                &auth,
                StatusCode::OK,
                Shown {
                    notice: Some("Deleted."),
                    ..Shown::default()
                },
            )
            .await
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

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/secrets", get(list))
        .route(
            "/api/v1/secrets/{name}",
            axum::routing::put(put).delete(delete),
        )
        .route("/api/v1/secrets/{name}/reveal", post(reveal))
        .route("/account/secrets", get(secrets_page).post(store_submit))
        .route("/account/secrets/{name}/reveal", post(reveal_submit))
        .route("/account/secrets/{name}/delete", post(delete_submit))
}
