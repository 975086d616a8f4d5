//! How the provider refuses: OAuth's own JSON errors at the back-channel endpoints
//! (`{"error", "error_description"}`, RFC 6749 §5.2), and a page for a browser that
//! cannot be sent back to an app (an unknown client, a redirect URI not registered).

use askama::Template;
use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use crate::error::AppError;

/// An OAuth error answer.
#[derive(Debug)]
pub(crate) struct OAuthError {
    pub(crate) status: StatusCode,
    pub(crate) error: &'static str,
    pub(crate) description: String,
    /// `invalid_client` after HTTP Basic: the answer carries a `WWW-Authenticate`.
    pub(crate) basic_challenge: bool,
    /// Seconds to wait, for a throttled client.
    pub(crate) retry_after: Option<u64>,
}

impl OAuthError {
    pub(crate) fn new(error: &'static str, description: impl Into<String>) -> Self {
        let status = match error {
            "invalid_client" | "invalid_token" => StatusCode::UNAUTHORIZED,
            "insufficient_scope" => StatusCode::FORBIDDEN,
            "slow_down" => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::BAD_REQUEST,
        };
        Self {
            status,
            error,
            description: description.into(),
            basic_challenge: false,
            retry_after: None,
        }
    }

    pub(crate) fn invalid_request(description: impl Into<String>) -> Self {
        Self::new("invalid_request", description)
    }

    pub(crate) fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new("invalid_grant", description)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(serde_json::json!({"error": self.error, "error_description": self.description})),
        )
            .into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.basic_challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"palisade\", charset=\"UTF-8\""),
            );
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// A failure of the service itself at an OAuth endpoint: the usual problem answer (500,
/// or 503 when the database is out of reach).
pub(crate) enum EndpointError {
    OAuth(OAuthError),
    Service(AppError),
}

impl From<OAuthError> for EndpointError {
    fn from(e: OAuthError) -> Self {
        Self::OAuth(e)
    }
}

impl From<AppError> for EndpointError {
    fn from(e: AppError) -> Self {
        Self::Service(e)
    }
}

impl From<crate::store::StoreError> for EndpointError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Service(e.into())
    }
}

impl IntoResponse for EndpointError {
    fn into_response(self) -> Response {
        match self {
            Self::OAuth(e) => e.into_response(),
            Self::Service(e) => e.into_response(),
        }
    }
}

#[derive(Template)]
#[template(path = "oidc_message.html")]
pub(crate) struct MessagePage<'a> {
    pub(crate) site: &'a crate::web::Site,
    pub(crate) title: &'a str,
    pub(crate) message: &'a str,
    /// A link onwards: (text, href).
    pub(crate) link: Option<(&'a str, &'a str)>,
}

/// A page that says what went wrong and goes nowhere (the request cannot be trusted to
/// name where to send the browser).
pub(crate) fn error_page(site: &crate::web::Site, status: StatusCode, message: &str) -> Response {
    crate::web::render(
        status,
        &MessagePage {
            site,
            title: "This sign-in cannot go on",
            message,
            link: None,
        },
    )
}
