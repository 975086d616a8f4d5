//! The session cookie, and where a request presents its token.

use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use http::header;
use http::request::Parts;
use palisade::secret::SecretString;

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

/// A session token as a request presented it: held as a secret from the moment it is
/// read, compared only through its SHA-256.
pub(crate) struct PresentedToken(SecretString);

impl PresentedToken {
    /// The `Authorization: Bearer` token, else the session cookie's, if any.
    pub(crate) fn from_parts(parts: &Parts) -> Option<Self> {
        if let Some(bearer) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        {
            return Some(Self(SecretString::new(bearer.trim().to_owned())));
        }
        // Each `Cookie` header split in place: no jar of every cookie is built.
        parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|c| c.name() == SESSION_COOKIE)
            .map(|c| Self(SecretString::new(c.value().to_owned())))
    }

    /// The hash to look the session up by, when the token has the shape of one of ours.
    pub(crate) fn hash(&self) -> Option<String> {
        self.0
            .expose(|t| super::token::well_formed(t).then(|| super::token_hash(t)))
    }
}

impl std::fmt::Debug for PresentedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PresentedToken([redacted])")
    }
}
