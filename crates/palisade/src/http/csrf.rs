//! Cross-site request forgery: Fetch Metadata and Origin checks, and form tokens.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use http::{Method, Request, StatusCode, header};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tower::Layer;

use super::gate::{Gated, RequestGate};
use super::{ConfigError, Problem};
use crate::secret::SecretBytes;

/// Refuses cross-site state-changing requests.
///
/// For `POST`, `PUT`, `PATCH` and `DELETE` (and any method that is not `GET`, `HEAD`,
/// `OPTIONS` or `TRACE`), the request passes only if:
/// 1. its `Origin` is one of the configured origins; or
/// 2. `Sec-Fetch-Site` is `same-origin` or `none` (set by the browser, not by pages); or
/// 3. it carries neither header **and no cookie** — a non-browser client (an API client with
///    a bearer token) that has no ambient credentials to abuse.
///
/// A request with cookies but neither header is refused: browsers that send cookies send
/// at least one of them on such requests, so its absence means something stripped them.
#[derive(Debug, Clone)]
#[must_use]
pub struct CsrfLayer {
    origins: Arc<[String]>,
    /// Path prefixes whose handlers change nothing whatever the method (a decision
    /// endpoint that a proxy asks with the original request's method).
    exempt: Arc<[String]>,
    /// Paths exempt exactly.
    exempt_exact: Arc<[String]>,
}

impl CsrfLayer {
    /// Trusts exactly `origins` (`https://example.com`, `http://127.0.0.1:8080`).
    pub fn new<'a>(origins: impl IntoIterator<Item = &'a str>) -> Result<Self, ConfigError> {
        let origins = origins
            .into_iter()
            .map(|o| {
                let lower = o.trim_end_matches('/').to_ascii_lowercase();
                let ok = (lower.starts_with("https://") || lower.starts_with("http://"))
                    && lower.splitn(4, '/').nth(3).is_none()
                    && lower.len() > "https://".len();
                if ok {
                    Ok(lower)
                } else {
                    Err(ConfigError::new(
                        "allowed_origins",
                        "must be scheme://host[:port]",
                    ))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            origins: origins.into(),
            exempt: Arc::from([]),
            exempt_exact: Arc::from([]),
        })
    }

    /// Lets every method through to paths under `prefix` (which must start and end with
    /// `/`): only for endpoints that change nothing, such as a forward-auth decision asked
    /// with the original request's method.
    pub fn exempt(mut self, prefix: &str) -> Result<Self, ConfigError> {
        if !prefix.starts_with('/') || !prefix.ends_with('/') || prefix.len() < 3 {
            return Err(ConfigError::new(
                "csrf_exempt",
                "must be a path starting and ending with '/'",
            ));
        }
        let mut exempt = self.exempt.to_vec();
        exempt.push(prefix.to_owned());
        self.exempt = exempt.into();
        Ok(self)
    }

    /// Exempts exactly `path` (not what lies under it): an endpoint whose handler
    /// authenticates its caller itself or only asks the user (an OAuth token endpoint, which
    /// other sites' pages may post to).
    pub fn exempt_path(mut self, path: &str) -> Result<Self, ConfigError> {
        if !path.starts_with('/') || path.len() < 2 || path.contains(['?', '#']) {
            return Err(ConfigError::new(
                "csrf_exempt",
                "must be a path starting with '/', without a query",
            ));
        }
        let mut exact = self.exempt_exact.to_vec();
        exact.push(path.to_owned());
        self.exempt_exact = exact.into();
        Ok(self)
    }

    /// Whether the request may pass.
    pub fn allows<B>(&self, req: &Request<B>) -> bool {
        if matches!(
            *req.method(),
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
        ) {
            return true;
        }
        if self
            .exempt
            .iter()
            .any(|p| req.uri().path().starts_with(p.as_str()))
            || self.exempt_exact.iter().any(|p| req.uri().path() == p)
        {
            return true;
        }
        let headers = req.headers();
        let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
        if let Some(origin) = origin
            && self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
        {
            return true;
        }
        match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
            // Browsers set Sec-Fetch-Site themselves; pages cannot forge it.
            Some(site) => matches!(site, "same-origin" | "none"),
            None => origin.is_none() && !headers.contains_key(header::COOKIE),
        }
    }
}

impl<S> Layer<S> for CsrfLayer {
    type Service = CsrfService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Gated::new(self.clone(), inner)
    }
}

/// The service of [`CsrfLayer`].
pub type CsrfService<S> = Gated<CsrfLayer, S>;

impl super::gate::sealed::Sealed for CsrfLayer {}

impl RequestGate for CsrfLayer {
    fn check<B>(&self, req: &mut Request<B>) -> Option<Response> {
        if self.allows(req) {
            return None;
        }
        let problem = Problem::new(
            StatusCode::FORBIDDEN,
            "cross-site-request",
            "Cross-site request refused",
        )
        .with_detail("State-changing requests must come from this site's own pages.")
        .with_field("origin");
        Some(problem.into_response())
    }
}

/// Form tokens bound to a session: `HMAC-SHA256(key, session binding)`. A page embeds
/// [`FormTokens::token`] in a hidden field; the handler checks it with
/// [`FormTokens::verify`]. Without the key an attacker cannot make a token for the
/// victim's session, and a token from another session does not verify.
pub struct FormTokens {
    key: SecretBytes,
}

impl std::fmt::Debug for FormTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FormTokens([redacted])")
    }
}

impl FormTokens {
    /// Uses `key` (at least 32 bytes).
    pub fn new(key: SecretBytes) -> Result<Self, ConfigError> {
        if key.len() < 32 {
            return Err(ConfigError::new("csrf_key", "must be at least 32 bytes"));
        }
        Ok(Self { key })
    }

    fn mac(&self, binding: &[u8]) -> [u8; 32] {
        let mut mac = self
            .key
            .expose(|k| <Hmac<Sha256> as KeyInit>::new_from_slice(k).expect("any length"));
        mac.update(b"palisade-csrf-v1\0");
        mac.update(binding);
        mac.finalize().into_bytes().into()
    }

    /// The token for the session identified by `binding` (e.g. the session token's hash).
    pub fn token(&self, binding: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(binding))
    }

    /// Whether `token` belongs to `binding`, compared in constant time.
    pub fn verify(&self, binding: &[u8], token: &str) -> bool {
        let Ok(given) = URL_SAFE_NO_PAD.decode(token) else {
            return false;
        };
        given.len() == 32 && bool::from(given.ct_eq(&self.mac(binding)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(path: &str, origin: &str) -> Request<()> {
        Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::ORIGIN, origin)
            .header(header::COOKIE, "session=x")
            .header("sec-fetch-site", "cross-site")
            .body(())
            .unwrap()
    }

    /// An exact exemption lets a cross-site post reach that one path — not a longer one,
    /// a sibling, nor the same path with a trailing slash.
    #[test]
    fn an_exact_exemption_covers_exactly_its_path() {
        let layer = CsrfLayer::new(["https://example.com"])
            .unwrap()
            .exempt_path("/oauth2/token")
            .unwrap();
        assert!(layer.allows(&post("/oauth2/token", "https://evil.example")));
        assert!(layer.allows(&post("/oauth2/token?x=1", "https://evil.example")));
        for path in [
            "/oauth2/token/",
            "/oauth2/tokens",
            "/oauth2/consent",
            "/OAUTH2/token",
        ] {
            assert!(!layer.allows(&post(path, "https://evil.example")), "{path}");
        }
        assert!(
            CsrfLayer::new(["https://example.com"])
                .unwrap()
                .exempt_path("x")
                .is_err()
        );
        assert!(
            CsrfLayer::new(["https://example.com"])
                .unwrap()
                .exempt_path("/a?b")
                .is_err()
        );
    }
}
