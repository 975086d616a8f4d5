//! What every face shares: rendering a page, redirects, the form-error box, form-token
//! checks, response marking (no-store), the site's face (`site.rs`), and how times and
//! browsers are named for people.

mod browser;
mod caller;
mod site;
mod when;

pub(crate) use browser::describe as describe_browser;
pub(crate) use caller::{Caller, caller};
pub(crate) use site::{AccentColour, Site};
pub(crate) use when::When;

use askama::Template;
use axum::response::{Html, IntoResponse, Redirect, Response};
use http::{HeaderMap, StatusCode, header};
use palisade::http::Sensitive;

use crate::error::AppError;
use crate::sessions::{Authenticated, MaybeAuth};
use crate::state::AppState;

/// An error to show on a form: beside its field when it has one.
#[derive(Debug, Default)]
pub(crate) struct FormErrors {
    pub(crate) field: Option<String>,
    pub(crate) message: String,
    pub(crate) general: Option<String>,
}

impl FormErrors {
    pub(crate) fn from(error: &AppError) -> Self {
        let message = error.message();
        match error.field() {
            Some(field) => Self {
                field: Some(field.to_owned()),
                message,
                general: None,
            },
            None => Self {
                field: None,
                message: String::new(),
                general: Some(message),
            },
        }
    }

    /// The message at the top of the page, whatever field it concerns (for forms whose
    /// fields repeat per row).
    pub(crate) fn general(error: &AppError) -> Self {
        let errors = Self::from(error);
        Self {
            general: Some(errors.general.unwrap_or(errors.message)),
            ..Self::default()
        }
    }
}

/// A page answering a refused form: a throttled one says when to come back, as the API's
/// problem does.
pub(crate) fn with_retry_after(mut page: Response, error: &AppError) -> Response {
    if let AppError::Throttled { retry_after } = error {
        page.headers_mut()
            .insert(header::RETRY_AFTER, http::HeaderValue::from(*retry_after));
    }
    page
}

/// The query of a page a mailed link opens (`?token=…`): the token held as a secret.
#[derive(serde::Deserialize)]
pub(crate) struct LinkQuery {
    pub(crate) token: Option<palisade::secret::SecretString>,
}

/// Renders a page as a sensitive (never cached) HTML response.
pub(crate) fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            response.extensions_mut().insert(Sensitive);
            response
        }
        Err(e) => AppError::internal(format_args!("template: {e}")).into_response(),
    }
}

pub(crate) fn see_other(to: &str) -> Response {
    let mut response = Redirect::to(to).into_response();
    response.extensions_mut().insert(Sensitive);
    response
}

pub(crate) fn utc(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil from days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// Runs `action` only when the form token belongs to this session (futures are lazy: a
/// refused form does nothing).
pub(crate) async fn guarded<T>(
    state: &AppState,
    auth: &Authenticated,
    token: &str,
    action: impl std::future::Future<Output = Result<T, AppError>>,
) -> Result<T, AppError> {
    check_form_token(state, auth, token)?;
    action.await
}

pub(crate) fn check_form_token(
    state: &AppState,
    auth: &Authenticated,
    token: &str,
) -> Result<(), AppError> {
    if state.forms.verify(auth.session.id.as_bytes(), token) {
        Ok(())
    } else {
        Err(AppError::FormToken)
    }
}

pub(crate) fn user_agent(headers: &HeaderMap) -> String {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// Marks a response as never to be cached (authenticated and auth responses).
pub(crate) fn sensitive(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    response.extensions_mut().insert(Sensitive);
    response
}

async fn home(MaybeAuth(auth): MaybeAuth) -> Response {
    see_other(if auth.is_some() { "/account" } else { "/login" })
}

async fn passkeys_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/passkeys.js"),
    )
        .into_response()
}

/// For a page that offers passkeys: the nonce its script tag carries, when passkeys are
/// available here.
pub(crate) fn passkey_nonce(state: &AppState, nonce: &palisade::http::CspNonce) -> Option<String> {
    state.mfa.passkeys_available().then(|| nonce.to_string())
}

/// Marks a page that offers passkeys: its Permissions-Policy lets this origin (only)
/// create and get credentials; every other page keeps both denied.
pub(crate) fn allow_webauthn(state: &AppState, mut page: Response) -> Response {
    if state.mfa.passkeys_available() {
        page.headers_mut().insert(
            http::HeaderName::from_static("permissions-policy"),
            palisade::http::permissions_policy_allowing_webauthn(),
        );
    }
    page
}

/// The routes that belong to no capability: the home redirect and the stylesheet.
pub(crate) fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/", axum::routing::get(home))
        .route(
            "/static/style.css",
            axum::routing::get(site::unhashed_stylesheet),
        )
        .route("/assets/{name}", axum::routing::get(site::asset))
        .route("/static/passkeys.js", axum::routing::get(passkeys_script))
        .route("/static/form_post.js", axum::routing::get(form_post_script))
}

/// The OpenID provider's `form_post` answer's one line of script.
async fn form_post_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/form_post.js"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(super::utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::utc(1_800_000_000), "2027-01-15 08:00 UTC");
    }
}
