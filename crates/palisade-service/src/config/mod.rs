//! Configuration: defaults, a TOML file, `PALISADE_*` environment variables, then flags.
//! The settings and their defaults live here; what makes a set of them acceptable in
//! `check.rs`.

mod check;
#[cfg(test)]
mod reference;
mod toml_file;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use palisade::secret::SecretString;
use serde::{Deserialize, Serialize};

/// Every setting. Each has a safe default; `palisade serve` with none of them works.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the SQLite database and generated keys live.
    pub data_dir: PathBuf,
    /// `postgres://…` to use PostgreSQL (also read from `DATABASE_URL`); default SQLite in
    /// the data directory. May hold a password, so it is held as a secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<Redacted>,
    /// The PostgreSQL password as a Fernet token under the keyring (`palisade secret
    /// encrypt`), opened at start, so no file or variable holds it in plain text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_password_token: Option<Redacted>,
    /// PEM client certificate for PostgreSQL certificate authentication (no password).
    pub database_tls_cert: Option<PathBuf>,
    /// Its PEM private key; refused unless only its owner may read it (mode 0600).
    pub database_tls_key: Option<PathBuf>,
    /// Allow a PostgreSQL server off loopback without verified TLS. Dangerous.
    pub allow_insecure_database_tls: bool,
    /// The origin people use (`https://accounts.example.com`); default `http://<listen>`.
    pub public_origin: Option<String>,
    /// Opt-in, for forward-auth across subdomains: the session is also issued as a
    /// `__Secure-` cookie for this domain (never a public suffix; it must contain
    /// `public_origin`'s host), so requests to every app under it carry it.
    pub cookie_domain: Option<String>,
    /// Proxy networks whose forwarded headers are believed.
    pub trusted_proxies: Vec<String>,
    /// The one header those proxies report the client's address in: `x-forwarded-for`
    /// (the default; right-most untrusted hop, with `X-Forwarded-Proto`), `forwarded` or
    /// `x-real-ip`. No other is ever read, so a client's own copy of another passes
    /// harmlessly through a proxy that does not remove it.
    pub client_address_header: String,
    /// A second, internal listener (loopback, or an address only the proxies reach) that
    /// alone answers the forward-auth endpoints when set: `listen` then does not.
    pub authz_listen: Option<SocketAddr>,
    /// PEM certificate chain for native TLS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for native TLS.
    pub tls_key: Option<PathBuf>,
    /// With TLS, a plain-HTTP listener that only redirects.
    pub http_redirect_listen: Option<SocketAddr>,
    /// Idle session timeout, minutes.
    pub session_idle_minutes: u64,
    /// Absolute session lifetime, minutes.
    pub session_absolute_minutes: u64,
    /// How recent a password entry must be to end other sessions, minutes.
    pub reauth_minutes: u64,
    /// Users without a second factor must add one before they reach anything else, and
    /// only sessions begun with one pass forward-auth.
    pub require_second_factor: bool,
    /// Bearer token that may read `/metrics` from off loopback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_token: Option<Redacted>,
    /// The site's name (shown in pages, and a word passwords must not lean on).
    pub site_name: String,
    /// A logo shown beside the site's name on every page: an SVG, PNG or WebP file of at
    /// most 256 KiB, served by palisade itself (the strict CSP allows nothing else).
    pub logo_file: Option<PathBuf>,
    /// The accent colour of buttons and links, `#rrggbb`; default a blue that keeps a 4.5:1
    /// contrast in light and dark schemes. Text on it is black or white, whichever reads.
    pub accent_colour: Option<String>,
    /// Breached-passwords list; default `<data_dir>/breached-passwords.txt` when present.
    pub password_blocklist: Option<PathBuf>,
    /// The pepper of an imported Python app's `bcrypt(password + PEPPER)` hashes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legacy_bcrypt_pepper: Option<Redacted>,
    /// Fernet key file (first key encrypts); default `<data_dir>/keys`. `PALISADE_KEYS`
    /// (comma-separated keys) wins over both. Never a command-line flag: it would show in `ps`.
    pub keys_file: Option<PathBuf>,
    /// Password hashes run at once (bounds hashing memory).
    pub hash_concurrency: usize,
    /// Argon2id memory, KiB.
    pub argon2_memory_kib: u32,
    /// Argon2id passes.
    pub argon2_iterations: u32,
    /// Argon2id lanes.
    pub argon2_parallelism: u32,
    /// Seconds a client has to send a request's headers (also how long an idle
    /// connection stays open).
    pub header_read_timeout_secs: u64,
    /// Seconds a client has to send a request's whole body.
    pub body_read_timeout_secs: u64,
    /// Connections open at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// SMTP server that sends the mail; without one, each message is written as an `.eml`
    /// file into `<data_dir>/outbox/`.
    pub smtp_host: Option<String>,
    /// SMTP port: default 587 for `starttls`, 465 for `tls`.
    pub smtp_port: Option<u16>,
    /// `starttls` (default) or `tls` (implicit TLS). Both verify the server's certificate;
    /// there is no plain-text mode.
    pub smtp_tls: SmtpTls,
    /// User name for SMTP AUTH (with `smtp_password_token` or `smtp_password_file`).
    pub smtp_username: Option<String>,
    /// The SMTP password as a Fernet token under the keyring (`palisade secret encrypt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_password_token: Option<Redacted>,
    /// A file holding the SMTP password; refused unless only its owner may read it.
    pub smtp_password_file: Option<PathBuf>,
    /// PEM certificates of a private CA the SMTP server's certificate may chain to
    /// (besides the public web PKI roots).
    pub smtp_ca_file: Option<PathBuf>,
    /// The sender of every message (`Name <address>` or an address); default
    /// `<site_name> <noreply@localhost>`, which only the `.eml` files may use.
    pub mail_from: Option<String>,
    /// Sign-up by mailed link: a sign-up answers 202 whether or not its address has an
    /// account; the account is made when the link mailed to the address is used, and the
    /// owner of an address that has one is told instead. Default: on when `smtp_host` is
    /// set (mail reaches people), off otherwise (a development setup, where registration
    /// answers 409 for a taken address). The username cannot be hidden either way.
    pub signup_by_link: Option<bool>,
    /// Users must prove their address (by a link mailed at registration) before they reach
    /// anything but the page that says so.
    pub require_verified_email: bool,
    /// Tell the owner when their account is signed in to from a browser it has not used
    /// before (a long-lived cookie marks each browser; at most three notices an hour).
    pub notify_new_sign_in: bool,
    /// The group whose members administer palisade (the admin API under `/api/v1/admin/`):
    /// everyone else gets 404 there. `palisade user group add NAME admins` makes the first.
    pub admin_group: String,
    /// Days the username of a deleted account stays reserved: nobody can take it and pose
    /// as its former owner to those who knew it. 0 frees it at once.
    pub deleted_username_reserved_days: u64,
    /// Forward-auth rules for the apps behind a reverse proxy (`[access_control]`).
    #[serde(default)]
    pub access_control: crate::authz::AccessControl,
    /// The OpenID Connect provider and its clients (`[oidc]`).
    #[serde(default)]
    pub oidc: crate::oidc::OidcSettings,
}

const ENV_KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "allow_insecure_database_tls",
    "database_password_token",
    "database_tls_cert",
    "database_tls_key",
    "public_origin",
    "cookie_domain",
    "trusted_proxies",
    "client_address_header",
    "authz_listen",
    "tls_cert",
    "tls_key",
    "http_redirect_listen",
    "session_idle_minutes",
    "session_absolute_minutes",
    "reauth_minutes",
    "require_second_factor",
    "metrics_token",
    "site_name",
    "logo_file",
    "accent_colour",
    "password_blocklist",
    "keys_file",
    "legacy_bcrypt_pepper",
    "hash_concurrency",
    "argon2_memory_kib",
    "argon2_iterations",
    "argon2_parallelism",
    "header_read_timeout_secs",
    "body_read_timeout_secs",
    "max_connections",
    "smtp_host",
    "smtp_port",
    "smtp_tls",
    "smtp_username",
    "smtp_password_token",
    "smtp_password_file",
    "smtp_ca_file",
    "mail_from",
    "require_verified_email",
    "notify_new_sign_in",
    "signup_by_link",
    "admin_group",
    "deleted_username_reserved_days",
];

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".parse().expect("valid"),
            data_dir: PathBuf::from("palisade-data"),
            database_url: None,
            database_password_token: None,
            database_tls_cert: None,
            database_tls_key: None,
            allow_insecure_database_tls: false,
            public_origin: None,
            cookie_domain: None,
            trusted_proxies: Vec::new(),
            client_address_header: "x-forwarded-for".into(),
            authz_listen: None,
            tls_cert: None,
            tls_key: None,
            http_redirect_listen: None,
            session_idle_minutes: 30,
            session_absolute_minutes: 120,
            reauth_minutes: 5,
            require_second_factor: false,
            metrics_token: None,
            site_name: "palisade".into(),
            logo_file: None,
            accent_colour: None,
            password_blocklist: None,
            keys_file: None,
            legacy_bcrypt_pepper: None,
            hash_concurrency: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 30,
            max_connections: 10_000,
            smtp_host: None,
            smtp_port: None,
            smtp_tls: SmtpTls::Starttls,
            smtp_username: None,
            smtp_password_token: None,
            smtp_password_file: None,
            smtp_ca_file: None,
            mail_from: None,
            require_verified_email: false,
            notify_new_sign_in: true,
            admin_group: "admins".into(),
            deleted_username_reserved_days: 365,
            signup_by_link: None,
            access_control: crate::authz::AccessControl::default(),
            oidc: crate::oidc::OidcSettings::default(),
        }
    }
}

/// How the SMTP connection is secured: both verify the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded by STARTTLS before anything is sent; refused if the server
    /// does not offer it.
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// A secret setting: zeroized on drop, `[redacted]` in `Debug`, never serialized.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct Redacted(SecretString);

impl Redacted {
    /// A secret setting given in code (as a test or an embedding program would).
    pub fn new(value: String) -> Self {
        Self(SecretString::new(value))
    }

    /// Runs `f` with the value.
    pub fn expose<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        self.0.expose(f)
    }

    /// The value as a library secret.
    pub(crate) fn to_secret(&self) -> SecretString {
        self.0.duplicate()
    }
}

impl Clone for Redacted {
    fn clone(&self) -> Self {
        Self(self.0.duplicate())
    }
}

/// Configuration layers are merged through serde; a secret set anywhere must not be
/// written out by that (or any other) path, so serializing one is an error.
impl Serialize for Redacted {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "secret settings are never serialized",
        ))
    }
}

/// Settings given on the command line, which win over everything else.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    /// `--listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// `--data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
}

impl Config {
    /// Loads defaults < `file` < `DATABASE_URL` < `PALISADE_*` < `overrides`, then checks it.
    /// Errors name the setting; the first stops the load (see [`Config::load_all_problems`]).
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Self, String> {
        Self::load_all_problems(file, overrides).map_err(|problems| problems.join("\n"))
    }

    /// As [`Config::load`], with every problem found, each a sentence naming its setting
    /// (`palisade config check`).
    pub fn load_all_problems(
        file: Option<&Path>,
        overrides: Overrides,
    ) -> Result<Self, Vec<String>> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(vec![format!(
                    "config file {} does not exist",
                    file.display()
                )]);
            }
            figment = figment.merge(Toml::string(
                &toml_file::read_toml(file).map_err(|e| vec![e])?,
            ));
        }
        let config: Config = figment
            .merge(Env::raw().only(&["database_url"]))
            .merge(Env::prefixed("PALISADE_").only(ENV_KEYS))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|e| {
                e.into_iter()
                    .map(|e| format!("configuration: {e}"))
                    .collect::<Vec<_>>()
            })?;
        let problems = config.problems();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems)
        }
    }

    /// The connection limits `palisade serve` applies to every listener.
    pub fn server_limits(&self) -> palisade::http::server::ServerLimits {
        palisade::http::server::ServerLimits {
            header_read_timeout: std::time::Duration::from_secs(self.header_read_timeout_secs),
            body_read_timeout: std::time::Duration::from_secs(self.body_read_timeout_secs),
            max_connections: self.max_connections,
            ..Default::default()
        }
    }

    /// The origin people use.
    pub fn origin(&self) -> String {
        match &self.public_origin {
            Some(origin) => origin.trim_end_matches('/').to_owned(),
            None if self.tls_cert.is_some() => format!("https://{}", self.listen),
            None => format!("http://{}", self.listen),
        }
    }

    /// Whether sign-ups go by mailed link (see `signup_by_link`).
    pub fn signs_up_by_link(&self) -> bool {
        self.signup_by_link.unwrap_or(self.smtp_host.is_some())
    }

    /// Whether PostgreSQL is configured.
    pub(crate) fn uses_postgres(&self) -> bool {
        self.database_url.as_ref().is_some_and(|u| {
            u.expose(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
        })
    }
}
