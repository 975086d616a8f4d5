//! palisade: secure-by-default accounts and web hardening.
//!
//! - [`password`]: Argon2id hashing with a versioned pepper, bcrypt import, policy checks.
//! - [`secret`]: zeroizing secret types and a Fernet keyring.
//! - [`validate`]: newtypes parsed at the boundary, and log-safe text.
//! - [`throttle`]: login throttling decisions that never lock the owner out.
//! - [`csp_eval`]: judging a Content-Security-Policy.
//! - [`totp`] and [`recovery_code`]: second factors — authenticator-app codes, recovery codes.
//! - `http` (feature): tower layers — HTTPS, headers, CSP with nonces, CSRF, the Shield.
#![forbid(unsafe_code)]

pub mod csp_eval;
#[cfg(feature = "http")]
pub mod http;
pub mod password;
pub mod recovery_code;
pub mod secret;
#[cfg(feature = "http")]
pub mod site_grade;
pub mod throttle;
pub mod totp;
pub mod validate;

#[cfg(test)]
#[path = "../tests/support/testdata.rs"]
mod test_helpers;
