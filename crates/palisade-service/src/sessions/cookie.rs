//! The session cookie, and where a request presents its token.

use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use http::header;
use http::request::Parts;
use palisade::secret::SecretString;

use super::IssuedToken;

/// The session cookie: `__Host-` so it is Secure, host-only and Path=/ by the browser's rule.
pub const SESSION_COOKIE: &str = "__Host-palisade-session";

/// The session cookie for every app under `cookie_domain` (opt-in, for forward-auth):
/// `__Secure-` so the browser takes it only over HTTPS with `Secure`.
pub const DOMAIN_SESSION_COOKIE: &str = "__Secure-palisade-session";

/// A pending login's cookie (password right, second step to come): host-only and Strict;
/// its row expires after five minutes. It is read by the second step only.
pub const PENDING_LOGIN_COOKIE: &str = "__Host-palisade-login";

/// A passkey sign-in's cookie: binds the challenge to the browser that asked for it.
pub const PASSKEY_SIGN_IN_COOKIE: &str = "__Host-palisade-passkey";

/// Sets and clears a session's cookies: the host-only one always, the domain one when
/// `cookie_domain` is configured. The only place either is written.
#[derive(Debug, Clone, Default)]
pub(crate) struct SessionCookies {
    domain: Option<String>,
}

impl SessionCookies {
    pub(crate) fn new(domain: Option<String>) -> Self {
        Self { domain }
    }

    fn cookies(&self, value: String) -> impl Iterator<Item = Cookie<'static>> {
        let cookie = |name: &'static str, value: String| {
            Cookie::build((name, value))
                .secure(true)
                .http_only(true)
                .same_site(SameSite::Lax)
                .path("/")
        };
        let host = cookie(SESSION_COOKIE, value.clone()).build();
        let domain = self
            .domain
            .clone()
            .map(|domain| cookie(DOMAIN_SESSION_COOKIE, value).domain(domain).build());
        std::iter::once(host).chain(domain)
    }

    pub(crate) fn set(&self, jar: CookieJar, token: &IssuedToken) -> CookieJar {
        self.cookies(token.expose(str::to_owned))
            .fold(jar, |jar, cookie| jar.add(cookie))
    }

    /// The session's new cookies when a re-authentication reissued its token, else `jar`
    /// as it is.
    pub(crate) fn set_renewed(&self, jar: CookieJar, token: Option<&IssuedToken>) -> CookieJar {
        match token {
            Some(token) => self.set(jar, token),
            None => jar,
        }
    }

    pub(crate) fn clear(&self, jar: CookieJar) -> CookieJar {
        self.cookies(String::new())
            .fold(jar, |jar, cookie| jar.remove(cookie))
    }

    fn pending(value: String) -> Cookie<'static> {
        Cookie::build((PENDING_LOGIN_COOKIE, value))
            .secure(true)
            .http_only(true)
            .same_site(SameSite::Strict)
            .path("/")
            .build()
    }

    /// The pending login's cookie (and no session cookie: any earlier one is cleared).
    pub(crate) fn set_pending(&self, jar: CookieJar, token: &IssuedToken) -> CookieJar {
        self.clear(jar)
            .add(Self::pending(token.expose(str::to_owned)))
    }

    pub(crate) fn clear_pending(&self, jar: CookieJar) -> CookieJar {
        jar.remove(Self::pending(String::new()))
    }

    fn passkey_sign_in(value: String) -> Cookie<'static> {
        Cookie::build((PASSKEY_SIGN_IN_COOKIE, value))
            .secure(true)
            .http_only(true)
            .same_site(SameSite::Strict)
            .path("/")
            .build()
    }

    /// The cookie a passkey sign-in's challenge is bound to.
    pub(crate) fn set_passkey_sign_in(&self, jar: CookieJar, token: &IssuedToken) -> CookieJar {
        jar.add(Self::passkey_sign_in(token.expose(str::to_owned)))
    }

    pub(crate) fn clear_passkey_sign_in(&self, jar: CookieJar) -> CookieJar {
        jar.remove(Self::passkey_sign_in(String::new()))
    }
}

/// A session token as a request presented it: held as a secret from the moment it is
/// read, compared only through its SHA-256.
pub(crate) struct PresentedToken(SecretString);

impl PresentedToken {
    /// A token a request's body carried (a mailed link's).
    pub(crate) fn from_secret(token: SecretString) -> Self {
        Self(token)
    }

    /// A token as a cookie carried it.
    pub(crate) fn from_cookie_value(value: &str) -> Self {
        Self(SecretString::new(value.to_owned()))
    }

    /// The pending login's token: `Authorization: Bearer`, else its cookie.
    pub(crate) fn pending_from_parts(parts: &Parts) -> Option<Self> {
        if let Some(bearer) = bearer(parts) {
            return Some(bearer);
        }
        parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|c| c.name() == PENDING_LOGIN_COOKIE)
            .map(|c| Self(SecretString::new(c.value().to_owned())))
    }

    /// The `Authorization: Bearer` token, else the host-only session cookie's, else the
    /// domain cookie's, if any.
    pub(crate) fn from_parts(parts: &Parts) -> Option<Self> {
        if let Some(bearer) = bearer(parts) {
            return Some(bearer);
        }
        // Each `Cookie` header split in place: no jar of every cookie is built.
        parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .filter(|c| c.name() == SESSION_COOKIE || c.name() == DOMAIN_SESSION_COOKIE)
            // The host-only cookie first: a sibling subdomain can set a domain cookie.
            .min_by_key(|c| c.name() != SESSION_COOKIE)
            .map(|c| Self(SecretString::new(c.value().to_owned())))
    }

    /// Whether the token starts with `prefix` (which kind of token it claims to be; says
    /// nothing of the secret part).
    pub(crate) fn has_prefix(&self, prefix: &str) -> bool {
        self.0.expose(|t| t.starts_with(prefix))
    }

    /// The hash to look an API token up by, when the token is `prefix` followed by the
    /// shape of one of ours.
    pub(crate) fn hash_with_prefix(&self, prefix: &str) -> Option<String> {
        self.0.expose(|t| {
            let rest = t.strip_prefix(prefix)?;
            super::token::well_formed(rest).then(|| super::token_hash(t))
        })
    }

    /// The hash to look the session up by, when the token has the shape of one of ours.
    pub(crate) fn hash(&self) -> Option<String> {
        self.0
            .expose(|t| super::token::well_formed(t).then(|| super::token_hash(t)))
    }
}

fn bearer(parts: &Parts) -> Option<PresentedToken> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| PresentedToken(SecretString::new(t.trim().to_owned())))
}

impl std::fmt::Debug for PresentedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PresentedToken([redacted])")
    }
}
