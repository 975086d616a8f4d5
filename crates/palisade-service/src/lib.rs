//! The palisade account service as a library: [`build`] a [`Service`] from a [`Config`],
//! then serve [`Service::router`]; [`admin`] holds what an operator does to its data.
//!
//! Layout: one folder per capability (`accounts/`, `sessions/`, `vault/`), each with its
//! service, JSON API and pages; `store/` holds every SQL statement, one file per table;
//! `web/` the helpers every page shares. Handlers call services; services call the store.
#![forbid(unsafe_code)]

mod accounts;
pub mod admin;
mod api;
mod app;
mod body;
mod clock;
pub mod config;
mod db;
mod error;
mod keys;
mod service;
mod sessions;
mod state;
mod store;
mod vault;
mod web;

pub use clock::{Clock, ManualClock};
pub use config::{Config, Overrides};
pub use service::{Service, build, build_with_clock};
pub use sessions::SESSION_COOKIE;

#[cfg(test)]
mod secret_hygiene;
