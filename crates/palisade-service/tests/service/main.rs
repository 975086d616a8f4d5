//! Service tests: the router driven in-process with `oneshot`, on SQLite and (when
//! `PALISADE_TEST_DATABASE_URL` is set) PostgreSQL.

mod account_data;
mod admin;
mod admin_actions;
mod admin_clients;
mod api;
mod api_tokens;
mod attacks;
mod authenticator;
mod concurrency;
mod console;
mod database_auth;
mod forward_auth;
mod import;
mod mail;
mod migrations;
mod oidc;
mod passkeys;
mod postgres;
mod revocation;
mod second_factor;
mod secret_hygiene;
mod signup;
mod site;
mod smtp;
mod sql_scan;
mod support;
mod test_database;
mod throttling;
mod vault;
