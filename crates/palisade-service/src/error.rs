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
    /// As many as one may hold already.
    #[error("limit of {limit} reached")]
    Limit { field: &'static str, limit: u64 },
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
    /// The account has a second factor, and this needs a code from it.
    #[error("second factor required")]
    SecondFactorRequired,
    /// A second-factor code that is wrong.
    #[error("wrong code")]
    WrongCode { field: &'static str },
    /// A right authenticator code that was just used (a double submission, or a race):
    /// not a wrong guess.
    #[error("code already used")]
    CodeAlreadyUsed,
    /// Passkeys need `public_origin` to name a host.
    #[error("passkeys unavailable")]
    PasskeysUnavailable,
    /// `require_second_factor`: this session must add a second factor first.
    #[error("second factor enrolment required")]
    SecondFactorEnrolment,
    /// The second step of a login whose pending state is gone: expired, used, out of
    /// guesses, or never there.
    #[error("pending login expired")]
    LoginExpired,
    /// A mailed link (password reset, address confirmation) that is not current: used,
    /// replaced by a newer one, expired, or never issued.
    #[error("link expired")]
    LinkExpired,
    /// `require_verified_email`: this user must confirm their address first.
    #[error("email verification required")]
    EmailUnverified,
    #[error("form token invalid")]
    FormToken,
    #[error("not found")]
    NotFound,
    /// Administration needs a session that began with (or since proved) a second factor.
    #[error("administration needs a second factor")]
    AdminSecondFactor,
    /// An administrative change the rules refuse (the last administrator, oneself).
    #[error("refused: {0}")]
    AdminRule(&'static str),
    /// An OpenID client's settings refused, and why (an operator's words, no secret).
    #[error("client refused: {0}")]
    ClientRefused(String),
    /// What only an administrator, or only an administrator's session, may do.
    #[error("forbidden: {0}")]
    AdminOnly(&'static str),
    #[error("database unavailable: {0}")]
    Unavailable(&'static str),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(field) => AppError::Taken(field),
            e => match e.unavailable() {
                Some(why) => {
                    log_unavailable(why, &e);
                    AppError::Unavailable(why)
                }
                None => AppError::internal(format_args!("database: {e}")),
            },
        }
    }
}

/// Logs that the database is unavailable — once, then at most every 10 s with the count of
/// requests refused meanwhile: an outage under load must not bury the log in one line per
/// request.
fn log_unavailable(why: &str, error: &StoreError) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST_LOGGED: AtomicU64 = AtomicU64::new(0);
    static REFUSED_SINCE: AtomicU64 = AtomicU64::new(0);
    const EVERY_SECS: u64 = 10;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST_LOGGED.load(Ordering::Relaxed);
    if now >= last.saturating_add(EVERY_SECS)
        && LAST_LOGGED
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        let refused_meanwhile = REFUSED_SINCE.swap(0, Ordering::Relaxed);
        tracing::error!(
            %error,
            refused_meanwhile,
            "database unavailable: {why}; answering 503 with Retry-After (logged at most every {EVERY_SECS} s)"
        );
    } else {
        REFUSED_SINCE.fetch_add(1, Ordering::Relaxed);
    }
}

impl From<palisade::password::HashError> for AppError {
    fn from(e: palisade::password::HashError) -> Self {
        AppError::internal(format_args!("password hashing: {e}"))
    }
}

/// A refused field, as a sentence that names it: "The username may contain only …".
fn field_sentence(field: &str, rule: &palisade::validate::Rule) -> String {
    let what = match field {
        "email" => "email address".to_owned(),
        "new_email" => "new email address".to_owned(),
        "expires_in_days" => "expiry in days".to_owned(),
        other => other.replace('_', " "),
    };
    format!("The {what} {rule}.")
}

impl AppError {
    /// The field a page shows the message beside.
    pub(crate) fn field(&self) -> Option<&str> {
        match self {
            AppError::Invalid(e) => Some(e.field()),
            AppError::WeakPassword(_) => Some("password"),
            AppError::Taken(f) => Some(f),
            AppError::Limit { field, .. } => Some(field),
            AppError::ReauthRequired => Some("password"),
            AppError::WrongPassword { field } => Some(field),
            AppError::SecondFactorRequired => Some("code"),
            AppError::WrongCode { field } => Some(field),
            AppError::CodeAlreadyUsed => Some("code"),
            AppError::LinkExpired => Some("token"),
            AppError::Body { field, .. } => field.as_deref(),
            AppError::ClientRefused(_) => Some("client"),
            _ => None,
        }
    }

    /// What a person is told, on a page or in a problem's `detail`: the one message table.
    pub(crate) fn message(&self) -> String {
        match self {
            AppError::Invalid(e) => field_sentence(e.field(), e.rule()),
            AppError::WeakPassword(v) => v.to_string(),
            AppError::Body { .. } => "The body does not match what this endpoint accepts.".into(),
            AppError::Taken(field) => format!("This {field} is already registered."),
            AppError::Limit { limit, .. } => {
                format!("You already have {limit}, the most allowed: remove one first.")
            }
            AppError::BadCredentials => {
                "The username or email address, or the password, is not correct.".into()
            }
            AppError::Throttled { retry_after } => {
                format!("Too many attempts. Try again in {retry_after} seconds.")
            }
            AppError::Unauthenticated => "Please sign in.".into(),
            AppError::ReauthRequired => "Enter your password again to do this.".into(),
            AppError::WrongPassword { .. } => "The password is not correct.".into(),
            AppError::SecondFactorRequired => {
                "Enter a code from your authenticator app, or a recovery code, to do this.".into()
            }
            AppError::WrongCode { .. } => "The code is not correct.".into(),
            AppError::CodeAlreadyUsed => {
                "This code was just used (the form may have been sent twice). Wait for your app to show the next code.".into()
            }
            AppError::PasskeysUnavailable => {
                "Passkeys are not available here: public_origin must name a host, not an address."
                    .into()
            }
            AppError::SecondFactorEnrolment => {
                "This site needs a second factor: add one (/api/v1/mfa/totp) before anything else."
                    .into()
            }
            AppError::LoginExpired => {
                "This sign-in expired or was already completed: enter your password again.".into()
            }
            AppError::LinkExpired => {
                "This link has expired or was already used: ask for a new one.".into()
            }
            AppError::EmailUnverified => {
                "Confirm your email address first: open the link we sent to it, or ask for a new one (/api/v1/email/verification).".into()
            }
            AppError::FormToken => "The form has expired; reload the page and try again.".into(),
            AppError::NotFound => "Not found.".into(),
            AppError::AdminSecondFactor => {
                "Administration needs a session begun with a second factor: add one (/account/second-factors) if you have none, then sign in again with it.".into()
            }
            AppError::AdminRule(why) | AppError::AdminOnly(why) => (*why).to_owned(),
            AppError::ClientRefused(why) => format!("The client was refused: {why}."),
            AppError::Unavailable(_) => {
                "The service cannot use its database right now; try again in a few seconds.".into()
            }
            AppError::Internal(_) => {
                "Something went wrong on our side; nothing was changed.".into()
            }
        }
    }

    pub(crate) fn problem(&self) -> Problem {
        use StatusCode as S;
        let (status, kind, title) = match self {
            AppError::Invalid(_) => (S::UNPROCESSABLE_ENTITY, "invalid-field", "Invalid field"),
            AppError::WeakPassword(_) => (
                S::UNPROCESSABLE_ENTITY,
                "weak-password",
                "Password not accepted",
            ),
            AppError::Body { status, .. } => (*status, "invalid-body", "Invalid request body"),
            AppError::Taken(_) => (S::CONFLICT, "already-registered", "Already registered"),
            AppError::Limit { .. } => (S::CONFLICT, "limit-reached", "Limit reached"),
            AppError::BadCredentials => (S::UNAUTHORIZED, "invalid-credentials", "Sign-in failed"),
            AppError::Throttled { .. } => (S::TOO_MANY_REQUESTS, "throttled", "Too many attempts"),
            AppError::Unauthenticated => (S::UNAUTHORIZED, "unauthenticated", "Not signed in"),
            AppError::ReauthRequired => (
                S::FORBIDDEN,
                "reauthentication-required",
                "Password required",
            ),
            AppError::WrongPassword { .. } => (S::FORBIDDEN, "wrong-password", "Wrong password"),
            AppError::SecondFactorRequired => (
                S::FORBIDDEN,
                "second-factor-required",
                "Second factor required",
            ),
            AppError::WrongCode { .. } => (S::FORBIDDEN, "wrong-code", "Wrong code"),
            AppError::CodeAlreadyUsed => (S::CONFLICT, "code-already-used", "Code already used"),
            AppError::LoginExpired => (S::UNAUTHORIZED, "login-expired", "Sign-in expired"),
            AppError::PasskeysUnavailable => {
                (S::NOT_FOUND, "passkeys-unavailable", "Passkeys unavailable")
            }
            AppError::SecondFactorEnrolment => (
                S::FORBIDDEN,
                "second-factor-enrolment-required",
                "Second factor required",
            ),
            AppError::LinkExpired => (S::BAD_REQUEST, "link-expired", "Link expired"),
            AppError::EmailUnverified => (
                S::FORBIDDEN,
                "email-verification-required",
                "Email address not confirmed",
            ),
            AppError::FormToken => (S::FORBIDDEN, "form-token", "Form expired"),
            AppError::NotFound => (S::NOT_FOUND, "not-found", "Not found"),
            AppError::AdminSecondFactor => (
                S::FORBIDDEN,
                "admin-second-factor-required",
                "Second factor required for administration",
            ),
            AppError::AdminRule(_) => (S::CONFLICT, "refused", "Refused"),
            AppError::AdminOnly(_) => (S::FORBIDDEN, "admin-only", "Not allowed"),
            AppError::ClientRefused(_) => {
                (S::UNPROCESSABLE_ENTITY, "client-refused", "Client refused")
            }
            AppError::Unavailable(_) => (
                S::SERVICE_UNAVAILABLE,
                "unavailable",
                "Temporarily unavailable",
            ),
            AppError::Internal(_) => (S::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
        };
        let mut problem = Problem::new(status, kind, title);
        if !matches!(self, AppError::Unauthenticated | AppError::NotFound) {
            problem = problem.with_detail(self.message());
        }
        if let AppError::Throttled { retry_after } = self {
            problem = problem.with_retry_after(*retry_after);
        }
        match (self, self.field()) {
            (AppError::FormToken, _) => problem.with_field("csrf"),
            (_, Some(field)) => problem.with_field(field.to_owned()),
            (_, None) => problem,
        }
    }

    /// An internal failure: logged here, once, whichever face (API or page) then shows
    /// the fixed message. `detail` must hold no secret.
    pub(crate) fn internal(detail: impl std::fmt::Display) -> Self {
        let detail = detail.to_string();
        tracing::error!(error = %detail, "request failed");
        AppError::Internal(detail)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut response = self.problem().into_response();
        response.extensions_mut().insert(palisade::http::Sensitive);
        response
    }
}
