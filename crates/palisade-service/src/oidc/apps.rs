//! "Apps with access": the apps a user let sign them in (their consents), listed on the
//! account page and by the API; revoking one withdraws the consent and ends every token
//! issued to it for the user.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use palisade::http::ClientInfo;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Oidc;
use crate::error::AppError;
use crate::sessions::Auth;
use crate::state::AppState;
use crate::web::{check_form_token, see_other, sensitive};

/// An app the user let sign them in.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AppAccess {
    pub(crate) client_id: String,
    /// The app's name (its id when the client is gone).
    pub(crate) name: String,
    /// What it may learn: the scopes consented to.
    pub(crate) scope: String,
    pub(crate) granted_at: i64,
}

impl Oidc {
    /// The apps `user_id` consented to, by name.
    pub(crate) async fn apps_of(&self, user_id: i64) -> Result<Vec<AppAccess>, AppError> {
        let mut apps = Vec::new();
        for consent in self.store.consents_of(user_id).await? {
            let name = match self.clients.get(&consent.client_id).await? {
                Some(client) => client.name.clone(),
                None => consent.client_id.clone(),
            };
            apps.push(AppAccess {
                client_id: consent.client_id,
                name,
                scope: consent.scope,
                granted_at: consent.granted_at,
            });
        }
        Ok(apps)
    }
}

#[utoipa::path(get, path = "/api/v1/account/apps", tag = "openid", operation_id = "list_apps",
    responses((status = 200, body = [AppAccess], description = "the apps the user let sign them in")))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(auth): Auth,
) -> Result<Response, AppError> {
    Ok(sensitive(Json(state.oidc.apps_of(auth.user.id).await?)))
}

#[utoipa::path(delete, path = "/api/v1/account/apps/{client_id}", tag = "openid", operation_id = "revoke_app",
    params(("client_id" = String, Path, description = "the app's client id")),
    responses((status = 204, description = "consent withdrawn; every token the app held for the user revoked"), (status = 404, description = "no such app has access")))]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    client: ClientInfo,
    Auth(auth): Auth,
    Path(client_id): Path<String>,
) -> Result<Response, AppError> {
    revoke_app(&state, &auth, &client, &client_id).await?;
    Ok(http::StatusCode::NO_CONTENT.into_response())
}

async fn revoke_app(
    state: &AppState,
    auth: &crate::sessions::Authenticated,
    client: &ClientInfo,
    client_id: &str,
) -> Result<(), AppError> {
    let oidc = &state.oidc;
    if !oidc
        .store
        .revoke_consent(auth.user.id, client_id, oidc.clock.now())
        .await?
    {
        return Err(AppError::NotFound);
    }
    state
        .accounts
        .audit_user(
            "oidc_app_revoked",
            auth,
            client,
            Some(&format!(
                "client {}",
                palisade::validate::LogSafe::new(client_id)
            )),
        )
        .await;
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevokeForm {
    csrf: String,
}

pub(crate) async fn revoke_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    Auth(auth): Auth,
    Path(client_id): Path<String>,
    Form(form): Form<RevokeForm>,
) -> Response {
    if let Err(e) = check_form_token(&state, &auth, &form.csrf) {
        return e.into_response();
    }
    match revoke_app(&state, &auth, &client, &client_id).await {
        Ok(()) | Err(AppError::NotFound) => see_other("/account?done=app"),
        Err(e) => e.into_response(),
    }
}
