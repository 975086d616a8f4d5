//! One error type for handlers; each variant maps to a problem+json response that names
//! the field and never echoes the input. 5xx bodies are fixed; details go to the log.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use palisade::http::Problem;
use palisade::password::PolicyViolation;
use palisade::validate::ValidationError;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum AppError {
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    #[error("{0}")]
    WeakPassword(PolicyViolation),
    #[error("the request body is not valid")]
    Body {
        field: Option<String>,
        status: StatusCode,
    },
    #[error("{0} is already registered")]
    Taken(&'static str),
    #[error("invalid credentials")]
    BadCredentials,
    #[error("throttled")]
    Throttled { retry_after: u64 },
    #[error("not signed in")]
    Unauthenticated,
    #[error("password re-entry required")]
    ReauthRequired,
    #[error("wrong password")]
    WrongPassword { field: &'static str },
    #[error("form token invalid")]
    FormToken,
    #[error("not found")]
    NotFound,
    #[error("internal: {0}")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(field) => AppError::Taken(field),
            StoreError::Db(e) => AppError::Internal(format!("database: {e}")),
        }
    }
}

impl From<palisade::password::HashError> for AppError {
    fn from(e: palisade::password::HashError) -> Self {
        AppError::Internal(format!("password hashing: {e}"))
    }
}

impl AppError {
    /// The field a page shows the message beside.
    pub(crate) fn field(&self) -> Option<&str> {
        match self {
            AppError::Invalid(e) => Some(e.field()),
            AppError::WeakPassword(_) => Some("password"),
            AppError::Taken(f) => Some(f),
            AppError::ReauthRequired => Some("password"),
            AppError::WrongPassword { field } => Some(field),
            AppError::Body { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    pub(crate) fn problem(&self) -> Problem {
        use StatusCode as S;
        match self {
            AppError::Invalid(e) => {
                Problem::new(S::UNPROCESSABLE_ENTITY, "invalid-field", "Invalid field")
                    .with_detail(e.to_string())
                    .with_field(e.field())
            }
            AppError::WeakPassword(v) => Problem::new(
                S::UNPROCESSABLE_ENTITY,
                "weak-password",
                "Password not accepted",
            )
            .with_detail(v.to_string())
            .with_field("password"),
            AppError::Body { field, status } => {
                let p = Problem::new(*status, "invalid-body", "Invalid request body")
                    .with_detail("The body does not match what this endpoint accepts.");
                match field {
                    Some(f) => p.with_field(f.clone()),
                    None => p,
                }
            }
            AppError::Taken(field) => {
                Problem::new(S::CONFLICT, "already-registered", "Already registered")
                    .with_detail(format!("This {field} is already registered."))
                    .with_field(*field)
            }
            AppError::BadCredentials => {
                Problem::new(S::UNAUTHORIZED, "invalid-credentials", "Sign-in failed")
                    .with_detail("The username or email address, or the password, is not correct.")
            }
            AppError::Throttled { retry_after } => {
                Problem::new(S::TOO_MANY_REQUESTS, "throttled", "Too many attempts")
                    .with_detail(format!(
                        "Too many attempts. Try again in {retry_after} seconds."
                    ))
                    .with_retry_after(*retry_after)
            }
            AppError::Unauthenticated => {
                Problem::new(S::UNAUTHORIZED, "unauthenticated", "Not signed in")
            }
            AppError::ReauthRequired => Problem::new(
                S::FORBIDDEN,
                "reauthentication-required",
                "Password required",
            )
            .with_detail("Enter your password again to do this.")
            .with_field("password"),
            AppError::WrongPassword { field } => {
                Problem::new(S::FORBIDDEN, "wrong-password", "Wrong password")
                    .with_detail("The password is not correct.")
                    .with_field(*field)
            }
            AppError::FormToken => Problem::new(S::FORBIDDEN, "form-token", "Form expired")
                .with_detail("The form has expired; reload the page and try again.")
                .with_field("csrf"),
            AppError::NotFound => Problem::new(S::NOT_FOUND, "not-found", "Not found"),
            AppError::Internal(_) => {
                Problem::new(S::INTERNAL_SERVER_ERROR, "internal", "Internal error")
                    .with_detail("Something went wrong on our side; nothing was changed.")
            }
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Internal(details) = &self {
            tracing::error!(error = %details, "request failed");
        }
        let mut response = self.problem().into_response();
        response.extensions_mut().insert(palisade::http::Sensitive);
        response
    }
}
