//! The session cookie, and where a request presents its token.

use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use http::header;
use http::request::Parts;

use super::IssuedToken;

/// The session cookie: `__Host-` so it is Secure, host-only and Path=/ by the browser's rule.
pub const SESSION_COOKIE: &str = "__Host-palisade-session";

pub(crate) fn session_cookie(token: &IssuedToken) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, token.expose(str::to_owned)))
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .build()
}

pub(crate) fn clear_session_cookie(jar: CookieJar) -> CookieJar {
    jar.remove(
        Cookie::build((SESSION_COOKIE, ""))
            .secure(true)
            .http_only(true)
            .same_site(SameSite::Lax)
            .path("/")
            .build(),
    )
}

/// The presented session token, if any.
pub(crate) fn presented_token(parts: &Parts) -> Option<String> {
    if let Some(bearer) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(bearer.trim().to_owned());
    }
    CookieJar::from_headers(&parts.headers)
        .get(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
}
