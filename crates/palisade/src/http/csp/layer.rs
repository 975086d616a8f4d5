//! The layer that puts a fresh nonce into every request and the policy into every response.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::future::BoxFuture;
use http::request::Parts;
use http::{HeaderName, HeaderValue, Request, StatusCode};
use tower::{Layer, Service};

use super::CspPolicy;
use crate::http::{ClientInfo, ConfigError, Problem};

const CSP: HeaderName = HeaderName::from_static("content-security-policy");
const CSP_REPORT_ONLY: HeaderName = HeaderName::from_static("content-security-policy-report-only");
const REPORTING_ENDPOINTS: HeaderName = HeaderName::from_static("reporting-endpoints");

/// Put in a response's extensions: the page's forms may also lead to `origin` — a redirect
/// after a form is submitted is checked against `form-action` too, so a login page that
/// sends the browser back to an app it protects must list the app's origin. Added beside
/// `'self'` in this one response's policy (when the policy has `form-action 'self'`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormActionOrigin(String);

impl FormActionOrigin {
    /// `scheme://host[:port]`, with nothing else: `None` for anything that is not exactly
    /// an http(s) origin (a path, a wildcard, a space or `;` would widen or break the policy).
    pub fn new(origin: &str) -> Option<Self> {
        let rest = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"))?;
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        };
        let host_ok = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        let port_ok = port
            .is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
        (host_ok && port_ok).then(|| Self(origin.to_owned()))
    }
}

/// This response's nonce: 128 bits from the OS CSPRNG, URL-safe base64. Put it in
/// `<script nonce="…">` and `<style nonce="…">`. Available as a request extension and as
/// an extractor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CspNonce(Arc<str>);

/// Nonces are cut from a per-thread buffer filled by the OS CSPRNG, 256 nonces a refill:
/// the same randomness as one `getrandom` call per response, without the system call on
/// every request. Each 16 bytes are used once and wiped.
struct NonceBuffer {
    bytes: [u8; 4096],
    used: usize,
}

thread_local! {
    static NONCE_BUFFER: std::cell::RefCell<NonceBuffer> =
        const { std::cell::RefCell::new(NonceBuffer { bytes: [0; 4096], used: 4096 }) };
}

impl CspNonce {
    fn generate() -> Option<Self> {
        let mut nonce = [0u8; 16];
        NONCE_BUFFER.with_borrow_mut(|buffer| {
            if buffer.used + 16 > buffer.bytes.len() {
                getrandom::fill(&mut buffer.bytes).ok()?;
                buffer.used = 0;
            }
            let slot = &mut buffer.bytes[buffer.used..buffer.used + 16];
            nonce.copy_from_slice(slot);
            slot.fill(0);
            buffer.used += 16;
            Some(())
        })?;
        Some(Self(Arc::from(URL_SAFE_NO_PAD.encode(nonce))))
    }

    /// The nonce value (what goes in the `nonce` attribute).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CspNonce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CspNonce {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CspNonce>()
            .cloned()
            .ok_or_else(|| super::super::misconfigured("CspNonce needs CspLayer"))
    }
}

#[derive(Debug, Clone)]
struct Compiled {
    https: Vec<String>,
    http: Vec<String>,
    header: HeaderName,
    group: Option<String>,
    reporting_endpoints: Option<HeaderValue>,
}

/// Adds the policy with a fresh nonce to every response that does not set its own
/// `Content-Security-Policy` (a handler overrides it by setting one).
#[derive(Debug, Clone)]
#[must_use]
pub struct CspLayer {
    compiled: Arc<Compiled>,
}

impl Default for CspLayer {
    fn default() -> Self {
        Self::new(CspPolicy::strict())
    }
}

impl CspLayer {
    /// Sends `policy`. Its reports go nowhere until [`CspLayer::with_report_endpoint`].
    pub fn new(policy: CspPolicy) -> Self {
        Self {
            compiled: Arc::new(Compiled {
                https: policy.template(true),
                http: policy.template(false),
                header: if policy.is_report_only() {
                    CSP_REPORT_ONLY
                } else {
                    CSP
                },
                group: policy.reports_to().map(str::to_owned),
                reporting_endpoints: None,
            }),
        }
    }

    /// Sends `Reporting-Endpoints: <group>="<path>"` so browsers deliver the reports of the
    /// policy's `report-to` group to `path` (serve it with
    /// [`csp_report_router`](super::csp_report_router)). Fails when the policy has no
    /// `report-to` directive.
    pub fn with_report_endpoint(self, path: &str) -> Result<Self, ConfigError> {
        let Some(group) = self.compiled.group.clone() else {
            return Err(ConfigError::new(
                "csp.report_to",
                "the policy has no report-to directive",
            ));
        };
        let path_ok = path.starts_with('/')
            && path
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/-._~".contains(&b));
        if !path_ok {
            return Err(ConfigError::new(
                "csp.report_path",
                "must be an absolute path of letters, digits and /-._~",
            ));
        }
        let value = HeaderValue::from_str(&format!("{group}=\"{path}\""))
            .expect("validated group and path");
        let mut compiled = (*self.compiled).clone();
        compiled.reporting_endpoints = Some(value);
        Ok(Self {
            compiled: Arc::new(compiled),
        })
    }
}

impl<S> Layer<S> for CspLayer {
    type Service = Csp<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Csp {
            inner,
            compiled: self.compiled.clone(),
        }
    }
}

/// The service of [`CspLayer`].
#[derive(Debug, Clone)]
pub struct Csp<S> {
    inner: S,
    compiled: Arc<Compiled>,
}

impl<S, B> Service<Request<B>> for Csp<S>
where
    S: Service<Request<B>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let Some(nonce) = CspNonce::generate() else {
            // No randomness, no nonce: refuse rather than send a guessable one.
            let problem = Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            );
            return Box::pin(async move { Ok(problem.into_response()) });
        };
        let https = req.extensions().get::<ClientInfo>().is_none_or(|c| c.https);
        req.extensions_mut().insert(nonce.clone());
        let compiled = self.compiled.clone();
        let future = self.inner.call(req);
        Box::pin(async move {
            let mut response = future.await?;
            let headers = response.headers();
            if !headers.contains_key(CSP) && !headers.contains_key(CSP_REPORT_ONLY) {
                let template = if https {
                    &compiled.https
                } else {
                    &compiled.http
                };
                let mut value = template.join(nonce.as_str());
                if let Some(FormActionOrigin(origin)) =
                    response.extensions().get::<FormActionOrigin>()
                {
                    value = value.replacen(
                        "form-action 'self'",
                        &format!("form-action 'self' {origin}"),
                        1,
                    );
                }
                let headers = response.headers_mut();
                headers.insert(
                    compiled.header.clone(),
                    HeaderValue::from_str(&value).expect("validated policy"),
                );
            }
            if let Some(endpoints) = &compiled.reporting_endpoints {
                response
                    .headers_mut()
                    .entry(REPORTING_ENDPOINTS)
                    .or_insert_with(|| endpoints.clone());
            }
            Ok(response)
        })
    }
}
