//! Hardening layers for any axum or tower app: HTTPS enforcement, security headers, a
//! nonce-based Content-Security-Policy with reporting, and CSRF checks — each a `Layer`
//! usable alone, or all at once with [`Shield`].
//!
//! Stops: credentials sent in clear, scheme and client-address spoofing through forwarded
//! headers, open redirects through `Host`, clickjacking, MIME sniffing, injected scripts,
//! cross-site request forgery, header injection from configuration.
//!
//! # Example
//! ```
//! use axum::{Router, routing::get};
//! use palisade::http::{Shield, ShieldConfig};
//! # fn main() -> Result<(), palisade::http::ConfigError> {
//! let listen = "127.0.0.1:8080".parse().unwrap();
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .layer(Shield::new(ShieldConfig::new("https://example.com", listen)?));
//! // Serve with `app.into_make_service_with_connect_info::<std::net::SocketAddr>()`.
//! # Ok(()) }
//! ```
//!
//! # Deployment caveat
//! Behind a reverse proxy, list it in [`TrustedProxies`]: otherwise every request looks
//! like plain HTTP from the proxy's address. List only proxies you run: a trusted address
//! can claim any client address and scheme. Exactly one header is believed (see
//! [`ClientAddressHeader`]); make the proxy set it from the connection, and remove the
//! others (`Forwarded`, `X-Real-IP`), which many proxies pass through from the client.

mod client;
pub mod csp;
mod csrf;
mod gate;
mod headers;
mod https;
mod problem;
#[cfg(feature = "tls")]
pub mod server;
mod shield;
#[cfg(feature = "tls")]
pub mod tls;

pub use client::{
    ClientAddressHeader, ClientInfo, ClientInfoLayer, ClientInfoService, ConnectionScheme,
    TrustedProxies, UnreadableClientAddress,
};
pub use csp::{Csp, CspLayer, CspNonce, CspPolicy, FormActionOrigin};
pub use csrf::{CsrfLayer, CsrfService, FormTokens};
pub use gate::{Gated, RequestGate};
pub use headers::{
    SecurityHeaders, SecurityHeadersLayer, Sensitive, permissions_policy_allowing_webauthn,
};
pub use https::{HttpsLayer, HttpsPolicy, HttpsService, redirect_only};
pub use problem::{PROBLEM_JSON, Problem};
pub use shield::{Shield, ShieldConfig, Shielded};

use axum::response::{IntoResponse, Response};
use http::StatusCode;

/// A configuration value was refused. Names the setting; never echoes the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {problem}")]
pub struct ConfigError {
    setting: &'static str,
    problem: &'static str,
}

impl ConfigError {
    pub(crate) fn new(setting: &'static str, problem: &'static str) -> Self {
        Self { setting, problem }
    }

    /// The setting at fault.
    pub fn setting(&self) -> &'static str {
        self.setting
    }
}

/// A 500 for wiring mistakes (a layer missing its prerequisite): fail closed, say why in
/// the log, show the client only that the server is misconfigured.
pub(crate) fn misconfigured(why: &'static str) -> Response {
    tracing::error!(why, "palisade layer misconfigured");
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server-misconfigured",
        "Server misconfigured",
    )
    .into_response()
}

#[cfg(test)]
mod tests;
