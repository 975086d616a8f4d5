//! Security headers on every response.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use futures_util::future::BoxFuture;
use http::{HeaderName, HeaderValue, Request, header};
use tower::{Layer, Service};

use super::{ClientInfo, ConfigError};

/// Mark a response as sensitive (authenticated data, auth forms, secrets): insert this into
/// the response's extensions and the layer adds `Cache-Control: no-store`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sensitive;

const ONE_YEAR: u64 = 31_536_000;

/// Security headers added to every response that does not already set them (a handler
/// overrides a header for its own route by setting it).
///
/// Defaults: HSTS `max-age=31536000; includeSubDomains` on HTTPS responses only (over plain
/// HTTP it would be ignored, and it must not be sent for loopback development);
/// `X-Content-Type-Options: nosniff`; `X-Frame-Options: DENY`; `Referrer-Policy: no-referrer`;
/// a `Permissions-Policy` denying camera, microphone, geolocation, payment, USB, WebAuthn
/// (a page that registers or uses passkeys sets its own) and the rest;
/// `Cross-Origin-Opener-Policy` and `Cross-Origin-Resource-Policy: same-origin`. The
/// `Server` and `X-Powered-By` headers are removed.
#[derive(Debug, Clone)]
#[must_use]
pub struct SecurityHeadersLayer {
    headers: Arc<Vec<(HeaderName, HeaderValue)>>,
    hsts: Option<HeaderValue>,
}

impl Default for SecurityHeadersLayer {
    fn default() -> Self {
        Self::new()
    }
}

/// Every powerful feature denied to every origin, the page's own included.
const PERMISSIONS_POLICY: &str = "accelerometer=(), autoplay=(), camera=(), display-capture=(), \
     encrypted-media=(), fullscreen=(), geolocation=(), gyroscope=(), hid=(), idle-detection=(), \
     magnetometer=(), microphone=(), midi=(), payment=(), \
     publickey-credentials-create=(), publickey-credentials-get=(), screen-wake-lock=(), \
     serial=(), usb=(), xr-spatial-tracking=()";

/// The default `Permissions-Policy` with WebAuthn (`publickey-credentials-create` and
/// `-get`) allowed to the page's own origin only: for the pages that add or use a passkey.
/// Set it on such a response; [`SecurityHeadersLayer`] keeps a header a handler set.
pub fn permissions_policy_allowing_webauthn() -> HeaderValue {
    let value = PERMISSIONS_POLICY
        .replace(
            "publickey-credentials-create=()",
            "publickey-credentials-create=(self)",
        )
        .replace(
            "publickey-credentials-get=()",
            "publickey-credentials-get=(self)",
        );
    HeaderValue::from_str(&value).expect("ASCII")
}

impl SecurityHeadersLayer {
    /// The defaults above.
    pub fn new() -> Self {
        let fixed = [
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "no-referrer"),
            ("permissions-policy", PERMISSIONS_POLICY),
            ("cross-origin-opener-policy", "same-origin"),
            ("cross-origin-resource-policy", "same-origin"),
        ];
        Self {
            headers: Arc::new(
                fixed
                    .iter()
                    .map(|(n, v)| (HeaderName::from_static(n), HeaderValue::from_static(v)))
                    .collect(),
            ),
            hsts: Some(HeaderValue::from_static(
                "max-age=31536000; includeSubDomains",
            )),
        }
    }

    /// Sets HSTS. `max_age` must be at least one year (browsers' preload lists require it,
    /// and shorter ages leave the first visit after expiry exposed); `preload` also needs
    /// `include_subdomains`.
    pub fn with_hsts(
        mut self,
        max_age: u64,
        include_subdomains: bool,
        preload: bool,
    ) -> Result<Self, ConfigError> {
        if max_age < ONE_YEAR {
            return Err(ConfigError::new(
                "hsts.max_age",
                "must be at least 31536000 (one year)",
            ));
        }
        if preload && !include_subdomains {
            return Err(ConfigError::new("hsts.preload", "needs include_subdomains"));
        }
        let mut value = format!("max-age={max_age}");
        if include_subdomains {
            value.push_str("; includeSubDomains");
        }
        if preload {
            value.push_str("; preload");
        }
        self.hsts = Some(HeaderValue::from_str(&value).expect("ASCII"));
        Ok(self)
    }

    /// Sets (or replaces) a header added to every response. The value is validated: CR, LF,
    /// NUL and other bytes illegal in a header are refused, so configuration can never
    /// inject a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Result<Self, ConfigError> {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ConfigError::new("header", "is not a valid header name"))?;
        let value = HeaderValue::from_str(value).map_err(|_| {
            ConfigError::new(
                "header",
                "has a value with characters not allowed in a header",
            )
        })?;
        let headers = Arc::make_mut(&mut self.headers);
        headers.retain(|(n, _)| *n != name);
        headers.push((name, value));
        Ok(self)
    }

    /// Adds the headers to `response`, which answered a request over HTTPS or not.
    pub fn apply(&self, https: bool, response: &mut Response) {
        let sensitive = response.extensions().get::<Sensitive>().is_some();
        let headers = response.headers_mut();
        headers.reserve(self.headers.len() + 3);
        headers.remove(header::SERVER);
        headers.remove("x-powered-by");
        for (name, value) in self.headers.iter() {
            if !headers.contains_key(name) {
                headers.insert(name.clone(), value.clone());
            }
        }
        if https && let Some(hsts) = &self.hsts {
            headers
                .entry(header::STRICT_TRANSPORT_SECURITY)
                .or_insert_with(|| hsts.clone());
        }
        if sensitive {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
    }
}

impl<S> Layer<S> for SecurityHeadersLayer {
    type Service = SecurityHeaders<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SecurityHeaders {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`SecurityHeadersLayer`].
#[derive(Debug, Clone)]
pub struct SecurityHeaders<S> {
    inner: S,
    layer: SecurityHeadersLayer,
}

impl<S, B> Service<Request<B>> for SecurityHeaders<S>
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

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let https = req
            .extensions()
            .get::<ClientInfo>()
            .is_some_and(|c| c.https);
        let layer = self.layer.clone();
        let future = self.inner.call(req);
        Box::pin(async move {
            let mut response = future.await?;
            layer.apply(https, &mut response);
            Ok(response)
        })
    }
}
