//! Every layer of this module in one.

use tower::Layer;

use super::{
    ClientInfoLayer, ClientInfoService, Csp, CspLayer, CsrfLayer, CsrfService, HttpsLayer,
    HttpsPolicy, HttpsService, SecurityHeaders, SecurityHeadersLayer, TrustedProxies,
};

/// All of palisade's HTTP defences as one layer:
///
/// ```text
/// request → ClientInfo → HTTPS enforcement → CSRF → security headers → CSP → your app
/// ```
///
/// Client info comes first because every later decision depends on the real scheme and
/// address; HTTPS and CSRF refuse before any work is done; headers and CSP wrap the
/// response of everything inside, including refusals from the app's own handlers.
#[derive(Debug, Clone)]
#[must_use]
pub struct Shield {
    client: ClientInfoLayer,
    https: HttpsLayer,
    csrf: CsrfLayer,
    headers: SecurityHeadersLayer,
    csp: CspLayer,
}

/// What the shield needs to know about the deployment; the rest has safe defaults.
#[derive(Debug, Clone)]
#[must_use]
pub struct ShieldConfig {
    /// Proxies whose forwarded headers are believed (default: none).
    pub proxies: TrustedProxies,
    /// Plain-HTTP handling.
    pub https: HttpsPolicy,
    /// Origins allowed to send state-changing requests.
    pub csrf: CsrfLayer,
    /// Security headers.
    pub headers: SecurityHeadersLayer,
    /// The CSP layer.
    pub csp: CspLayer,
}

impl ShieldConfig {
    /// Safe defaults for a site served at `origin` (`https://example.com`, or
    /// `http://127.0.0.1:8080` in development) by a listener at `listen`: no trusted
    /// proxies, HTTPS required (plain HTTP allowed only from loopback to a loopback
    /// listener), page loads over plain HTTP redirected to `origin` when it is HTTPS,
    /// only `origin` may post, strict headers, the strict CSP.
    pub fn new(origin: &str, listen: std::net::SocketAddr) -> Result<Self, super::ConfigError> {
        let mut https = HttpsPolicy::for_listener(listen);
        if origin.starts_with("https://") {
            https = https.with_canonical_origin(origin)?;
        }
        Ok(Self {
            proxies: TrustedProxies::none(),
            https,
            csrf: CsrfLayer::new([origin])?,
            headers: SecurityHeadersLayer::new(),
            csp: CspLayer::default(),
        })
    }
}

impl Shield {
    /// The shield for `config`.
    pub fn new(config: ShieldConfig) -> Self {
        Self {
            client: ClientInfoLayer::new(config.proxies),
            https: HttpsLayer::new(config.https),
            csrf: config.csrf,
            headers: config.headers,
            csp: config.csp,
        }
    }
}

/// The service stack a [`Shield`] wraps around an app.
pub type Shielded<S> = ClientInfoService<HttpsService<CsrfService<SecurityHeaders<Csp<S>>>>>;

impl<S> Layer<S> for Shield {
    type Service = Shielded<S>;

    fn layer(&self, inner: S) -> Self::Service {
        self.client.layer(
            self.https
                .layer(self.csrf.layer(self.headers.layer(self.csp.layer(inner)))),
        )
    }
}
