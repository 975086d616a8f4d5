//! HTTPS enforcement: redirect page loads, refuse everything else sent in clear.

use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, Request, StatusCode, header};
use tower::Layer;

use super::gate::{Gated, RequestGate};
use super::{ClientInfo, ConfigError, Problem};

/// What to do with plain-HTTP requests.
///
/// - `GET`/`HEAD` outside the API are redirected with **308** to the configured canonical
///   `https://` origin, path and query kept. 308 rather than 301: both are permanent and
///   cached, but 308 forbids the client to change the method, which says exactly what is
///   meant; every current browser follows it. The request's `Host` never decides where the
///   redirect goes, so it cannot become an open redirect.
/// - API requests (paths under the API prefixes) are refused whatever their method: a
///   client that followed a redirect would already have sent its credentials in clear.
/// - Every other method is refused with a problem+json 403: the body has already crossed
///   the network unprotected, and redirecting it would only teach clients that it works.
/// - Without a canonical origin, plain-HTTP page loads are refused too.
///
/// Loopback clients may use plain HTTP when allowed; [`HttpsPolicy::for_listener`] allows
/// it only when the listener itself is on loopback.
#[derive(Debug, Clone)]
#[must_use]
pub struct HttpsPolicy {
    canonical: Option<Arc<str>>,
    allow_loopback_http: bool,
    api_prefixes: Arc<[String]>,
}

impl HttpsPolicy {
    /// Enforces HTTPS for everyone, with no redirect target (plain HTTP is refused).
    pub fn new() -> Self {
        Self {
            canonical: None,
            allow_loopback_http: false,
            api_prefixes: Arc::from(vec!["/api/".to_owned()]),
        }
    }

    /// The default for a listener at `addr`: plain HTTP from loopback clients is allowed
    /// only when the listener is on loopback (local development).
    pub fn for_listener(addr: std::net::SocketAddr) -> Self {
        Self {
            allow_loopback_http: addr.ip().is_loopback(),
            ..Self::new()
        }
    }

    /// Redirects plain-HTTP page loads to `origin`, which must be `https://host[:port]`
    /// with nothing after it.
    pub fn with_canonical_origin(mut self, origin: &str) -> Result<Self, ConfigError> {
        let rest = origin.strip_prefix("https://").ok_or(ConfigError::new(
            "canonical_origin",
            "must start with https://",
        ))?;
        let valid_host = !rest.is_empty()
            && rest.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
            });
        if !valid_host {
            return Err(ConfigError::new(
                "canonical_origin",
                "must be https://host[:port] with no path",
            ));
        }
        self.canonical = Some(Arc::from(origin.to_ascii_lowercase()));
        Ok(self)
    }

    /// Allows or forbids plain HTTP from loopback clients.
    pub fn allow_loopback_http(mut self, allow: bool) -> Self {
        self.allow_loopback_http = allow;
        self
    }

    /// Path prefixes of the API (default `/api/`): never redirected.
    pub fn with_api_prefixes<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        prefixes: I,
    ) -> Self {
        self.api_prefixes = prefixes
            .into_iter()
            .map(Into::into)
            .collect::<Vec<_>>()
            .into();
        self
    }

    /// The decision for one request: `None` lets it through.
    pub fn check<B>(&self, req: &Request<B>) -> Option<Response> {
        let Some(info) = req.extensions().get::<ClientInfo>() else {
            return Some(super::misconfigured(
                "HttpsLayer needs ClientInfoLayer outside it",
            ));
        };
        if info.https
            || (self.allow_loopback_http && info.addr.is_loopback() && info.peer.is_loopback())
        {
            return None;
        }
        Some(self.refuse_plain(req))
    }

    /// The answer to a request that arrived over plain HTTP: a redirect for page loads
    /// when a canonical origin is set, a problem+json 403 otherwise.
    fn refuse_plain<B>(&self, req: &Request<B>) -> Response {
        let path = req.uri().path();
        let is_api = self
            .api_prefixes
            .iter()
            .any(|p| path.starts_with(p.as_str()) || path == p.trim_end_matches('/'));
        let page_load = matches!(*req.method(), Method::GET | Method::HEAD) && !is_api;
        match (&self.canonical, page_load) {
            (Some(origin), true) => {
                let path_and_query = req
                    .uri()
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/");
                let location = format!("{origin}{path_and_query}");
                let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
                // A path that cannot form a header value is refused, not redirected.
                let Ok(value) = HeaderValue::from_str(&location) else {
                    return https_required("The address is not valid.");
                };
                response.headers_mut().insert(header::LOCATION, value);
                response
            }
            _ => https_required(if is_api {
                "API requests must use HTTPS; requests sent over plain HTTP are refused, not redirected."
            } else {
                "This request must be sent over HTTPS."
            }),
        }
    }
}

/// A router for a plain-HTTP listener beside the TLS one: it serves nothing, only
/// redirects page loads to `canonical_origin` and refuses everything else.
pub fn redirect_only(canonical_origin: &str) -> Result<axum::Router, ConfigError> {
    let policy = HttpsPolicy::new().with_canonical_origin(canonical_origin)?;
    Ok(axum::Router::new().fallback(move |req: Request<Body>| {
        let response = policy.refuse_plain(&req);
        async move { response }
    }))
}

impl Default for HttpsPolicy {
    fn default() -> Self {
        Self::new()
    }
}

fn https_required(detail: &str) -> Response {
    Problem::new(StatusCode::FORBIDDEN, "https-required", "HTTPS required")
        .with_detail(detail)
        .into_response()
}

/// Applies an [`HttpsPolicy`]. Needs [`ClientInfo`] (from
/// [`ClientInfoLayer`](super::ClientInfoLayer)) in the request; without it every request
/// is refused with a 500 that names the misconfiguration (fail closed).
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct HttpsLayer {
    policy: HttpsPolicy,
}

impl HttpsLayer {
    /// A layer applying `policy`.
    pub fn new(policy: HttpsPolicy) -> Self {
        Self { policy }
    }
}

impl<S> Layer<S> for HttpsLayer {
    type Service = HttpsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Gated::new(self.policy.clone(), inner)
    }
}

/// The service of [`HttpsLayer`].
pub type HttpsService<S> = Gated<HttpsPolicy, S>;

impl super::gate::sealed::Sealed for HttpsPolicy {}

impl RequestGate for HttpsPolicy {
    fn check<B>(&self, req: &mut Request<B>) -> Option<Response> {
        HttpsPolicy::check(self, req)
    }
}
