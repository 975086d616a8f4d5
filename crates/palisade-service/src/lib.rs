//! The palisade account service as a library: [`build`] a [`Service`] from a [`Config`],
//! then serve [`Service::router`]; [`admin`] holds what an operator does to its data.
//!
//! Layout: one folder per capability (`accounts/`, `sessions/`, `mfa/`, `vault/`, `authz/`,
//! `api_tokens/`, `recovery/`: password reset), each with its service, JSON API and pages; `store/` holds every SQL
//! statement, one file per table (`login.rs`: a login's combined statements); `web/` the
//! helpers every page shares; `mail/` the outbox and its sender. Handlers call services; services call the store.
#![forbid(unsafe_code)]

mod account_data;
mod accounts;
pub mod admin;
mod api;
mod api_tokens;
mod app;
mod authz;
mod background;
mod body;
mod clock;
pub mod config;
mod console;
mod db;
mod error;
mod keys;
mod mail;
mod mfa;
mod oidc;
mod recovery;
mod service;
mod sessions;
mod state;
mod store;
mod vault;
mod web;

pub use accounts::browsers::BROWSER_COOKIE;
pub use authz::{AccessControl, OneOrMany, RuleConfig};
pub use clock::{Clock, ManualClock};
pub use config::{Config, Overrides};
pub use oidc::{ClientSettings, OidcSettings};
pub use service::{Service, build, build_with_clock};
pub use sessions::{
    DOMAIN_SESSION_COOKIE, PASSKEY_SIGN_IN_COOKIE, PENDING_LOGIN_COOKIE, SESSION_COOKIE,
};

/// Entry points for the fuzz targets in `fuzz/` (not a stable API).
#[doc(hidden)]
pub mod fuzzing {
    use crate::authz::{PathParameters, PathReading};

    /// forward-auth's normalization of a request's `path?query`, with `;` path parameters
    /// refused (`parameters % 3 == 0`), stripped (1) or kept (2), and IIS's trailing dots
    /// and spaces dropped or not: the normalized path and the query, or why it was refused.
    pub fn normalize_resource(
        uri: &str,
        parameters: u8,
        strip_trailing_dots_and_spaces: bool,
    ) -> Result<(String, Option<String>), String> {
        let reading = PathReading {
            parameters: match parameters % 3 {
                0 => PathParameters::Refuse,
                1 => PathParameters::Strip,
                _ => PathParameters::Keep,
            },
            strip_trailing_dots_and_spaces,
        };
        crate::authz::normalize_resource(uri, &reading).map_err(|e| e.0)
    }

    /// Tokens signed by a fixed set of keys (ES256 and EdDSA, made once): the genuine ones.
    pub fn genuine_jwts() -> &'static [String] {
        &jwt_fixture().1
    }

    /// Whether `token` verifies against that key set, with its header's algorithm pinned
    /// as the provider pins it for its own tokens.
    pub fn verify_jwt(token: &str) -> bool {
        let keys = &jwt_fixture().0;
        crate::oidc::fuzzing::verifies(token, keys)
    }

    fn jwt_fixture() -> &'static (Vec<crate::oidc::fuzzing::PublicKey>, Vec<String>) {
        static FIXTURE: std::sync::OnceLock<(Vec<crate::oidc::fuzzing::PublicKey>, Vec<String>)> =
            std::sync::OnceLock::new();
        FIXTURE.get_or_init(crate::oidc::fuzzing::fixture)
    }

    /// Where a login may send the browser back to (`rd`), for a service at `origin` with
    /// `cookie_domain`: the URL to follow, or `None`.
    pub fn return_to(origin: &str, cookie_domain: Option<&str>, rd: &str) -> Option<String> {
        crate::authz::ReturnTo::new(origin, cookie_domain).check(rd)
    }
}

#[cfg(test)]
mod secret_hygiene;
