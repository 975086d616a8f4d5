//! The palisade account service as a library: [`build`] a [`Service`] from a [`Config`],
//! then serve [`Service::router`]; [`admin`] holds what an operator does to its data.
//!
//! Layout: one folder per capability (`accounts/`, `sessions/`, `mfa/`, `vault/`, `authz/`,
//! `api_tokens/`, `recovery/`: password reset), each with its service, JSON API and pages; `store/` holds every SQL
//! statement, one file per table (`login.rs`: a login's combined statements); `web/` the
//! helpers every page shares; `mail/` the outbox and its sender. Handlers call services; services call the store.
#![forbid(unsafe_code)]

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
mod db;
mod error;
mod keys;
mod mail;
mod mfa;
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
pub use service::{Service, build, build_with_clock};
pub use sessions::{
    DOMAIN_SESSION_COOKIE, PASSKEY_SIGN_IN_COOKIE, PENDING_LOGIN_COOKIE, SESSION_COOKIE,
};

#[cfg(test)]
mod secret_hygiene;
