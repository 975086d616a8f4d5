//! Sign-up by mailed link, as the API and the pages offer it: the answer to a sign-up
//! (`Registered::LinkSent`), and the link's page and endpoint that make the account.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use http::StatusCode;
use palisade::http::ClientInfo;
use palisade::secret::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::api::{UserView, user_view};
use crate::body::ApiJson;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::{FormErrors, render, see_other, sensitive};

/// What every sign-up is told when sign-up goes by link, whatever its address.
pub(crate) const LINK_SENT: &str = "If this address can be used, a link to finish signing up is on its way to it. It works once, for 24 hours.";

/// The answer to a sign-up under `signup_by_link`: the same for every address.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SignupView {
    /// `link-sent`.
    status: &'static str,
    /// What happens next, in a sentence.
    detail: &'static str,
}

pub(crate) fn link_sent() -> Response {
    sensitive((
        StatusCode::ACCEPTED,
        Json(SignupView {
            status: "link-sent",
            detail: LINK_SENT,
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignupConfirmRequest {
    /// The `token` of the mailed link.
    #[schema(value_type = String)]
    token: SecretString,
}

#[utoipa::path(post, path = "/api/v1/register/confirm", operation_id = "confirm_signup", request_body = SignupConfirmRequest,
    responses((status = 201, body = UserView, description = "the account is made, its address proven"),
        (status = 400, description = "the link is not current: used, expired or never sent"),
        (status = 409, description = "an account took the username or the address meanwhile")))]
pub(crate) async fn confirm(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<SignupConfirmRequest>,
) -> Result<Response, AppError> {
    let user = state.accounts.complete_signup(&body.token, &client).await?;
    Ok(sensitive((StatusCode::CREATED, Json(user_view(&user)))))
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage<'a> {
    site: &'a crate::web::Site,
    /// The link's token, carried by the form; `None` with `pending` unset: not current.
    token: Option<&'a str>,
    /// The username and address the link is for.
    pending: Option<(String, String)>,
    /// After a sign-up: what every sign-up is told.
    sent: Option<&'a str>,
    errors: FormErrors,
}

/// The page every sign-up gets under `signup_by_link`, whatever its address.
pub(crate) fn link_sent_page(state: &AppState) -> Response {
    render(
        StatusCode::ACCEPTED,
        &SignupPage {
            site: &state.site,
            token: None,
            pending: None,
            sent: Some(LINK_SENT),
            errors: FormErrors::default(),
        },
    )
}

/// The mailed link's page: asks to create the account (a GET changes nothing: mail
/// scanners open links).
async fn confirm_page(
    State(state): State<AppState>,
    Query(query): Query<crate::web::LinkQuery>,
) -> Response {
    let Some(token) = query.token else {
        return see_other("/register");
    };
    let pending = match state.accounts.signup_pending(&token).await {
        Ok(pending) => pending,
        Err(e) => return axum::response::IntoResponse::into_response(e),
    };
    // Rendered inside `expose`: the token is never copied out of its secret.
    token.expose(|t| {
        render(
            if pending.is_some() {
                StatusCode::OK
            } else {
                StatusCode::BAD_REQUEST
            },
            &SignupPage {
                site: &state.site,
                token: pending.is_some().then_some(t),
                pending,
                sent: None,
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
    match state.accounts.complete_signup(&form.token, &client).await {
        Ok(_) => see_other("/login?registered=1"),
        Err(e) => render(
            e.problem().status(),
            &SignupPage {
                site: &state.site,
                token: None,
                pending: None,
                sent: None,
                errors: match e {
                    AppError::LinkExpired => FormErrors::default(),
                    _ => FormErrors::general(&e),
                },
            },
        ),
    }
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/register/confirm", post(confirm))
        .route("/register/confirm", get(confirm_page).post(confirm_submit))
}
