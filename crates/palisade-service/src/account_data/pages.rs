//! `GET /account/export` ("Download my data") and `POST /account/delete` ("Delete my
//! account") from the account page.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use http::HeaderValue;
use palisade::http::ClientInfo;
use palisade::secret::SecretString;
use serde::Deserialize;

use super::DeletedBy;
use crate::body::Form;
use crate::sessions::MaybeSignedIn;
use crate::state::AppState;
use crate::web::{FormErrors, check_form_token, see_other};

async fn export_page(
    State(state): State<AppState>,
    MaybeSignedIn(auth): MaybeSignedIn,
) -> Response {
    let Some(auth) = auth else {
        return see_other("/login");
    };
    match super::api::export_response(&state, &auth.user).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteForm {
    csrf: String,
    #[serde(default)]
    delete_password: Option<SecretString>,
    #[serde(default)]
    delete_code: Option<SecretString>,
}

async fn delete_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    MaybeSignedIn(auth): MaybeSignedIn,
    Form(form): Form<DeleteForm>,
) -> Response {
    let Some(auth) = auth else {
        return see_other("/login");
    };
    let result = async {
        check_form_token(&state, &auth, &form.csrf)?;
        let proof = crate::mfa::pages::typed_proof(form.delete_code, None)?;
        state
            .mfa
            .prove_owner(
                &state.accounts,
                &state.keyring,
                &auth,
                form.delete_password,
                proof,
                &client,
            )
            .await?;
        state
            .account_data
            .delete(&auth.user, DeletedBy::Owner, &client.addr.to_string())
            .await
    }
    .await;
    match result {
        Ok(_) => {
            let mut response = (
                state.accounts.sessions.cookies.clear(jar),
                see_other("/login?deleted=1"),
            )
                .into_response();
            response.headers_mut().insert(
                "clear-site-data",
                HeaderValue::from_static("\"cache\", \"cookies\", \"storage\""),
            );
            response
        }
        Err(e) => {
            // The form's fields carry the prefix (the page has other password fields).
            let mut errors = FormErrors::from(&e);
            errors.field = errors.field.map(|f| match f.as_str() {
                "password" => "delete_password".to_owned(),
                "code" | "recovery_code" | "passkey" => "delete_code".to_owned(),
                _ => f,
            });
            if e.field().is_none() {
                errors = FormErrors {
                    field: Some("delete_password".to_owned()),
                    message: e.message(),
                    general: None,
                };
            }
            crate::web::with_retry_after(
                crate::accounts::pages::account_view(
                    &state,
                    &auth,
                    e.problem().status(),
                    None,
                    errors,
                )
                .await,
                &e,
            )
        }
    }
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/account/export", get(export_page))
        .route("/account/delete", post(delete_submit))
}
