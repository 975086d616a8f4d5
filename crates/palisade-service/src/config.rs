//! Configuration: defaults, a TOML file, `PALISADE_*` environment variables, then flags.

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

/// The configuration file, checked to be TOML. A syntax error is reported by line and
/// column only: the TOML parser's own message quotes the line, which may hold a secret
/// (a `database_url` with its password).
fn read_toml(file: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("configuration: {}: {e}", file.display()))?;
    if let Err(e) = text.parse::<toml::Table>() {
        let at = e.span().map_or(0, |span| span.start).min(text.len());
        let before = text.get(..at).unwrap_or_default();
        let line = before.matches('\n').count() + 1;
        let column = before
            .rsplit('\n')
            .next()
            .unwrap_or_default()
            .chars()
            .count()
            + 1;
        return Err(format!(
            "configuration: {} is not valid TOML at line {line}, column {column}: {}",
            file.display(),
            e.message()
        ));
    }
    Ok(text)
}

impl Config {
    /// Loads defaults < `file` < `DATABASE_URL` < `PALISADE_*` < `overrides`, then checks it.
    /// Errors name the setting.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Self, String> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(format!("config file {} does not exist", file.display()));
            }
            figment = figment.merge(Toml::string(&read_toml(file)?));
        }
        let config: Config = figment
            .merge(Env::raw().only(&["database_url"]))
            .merge(Env::prefixed("PALISADE_").only(ENV_KEYS))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|e| format!("configuration: {e}"))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        self.cookie_domain()?;
        // A rule set that cannot be read stops the start, naming the rule and the field.
        crate::authz::AccessRules::compile(&self.access_control)
            .map_err(|e| format!("configuration: {e}"))?;
        // So does a client that cannot be read, naming the client and the field.
        crate::oidc::Clients::compile_config(
            &self.oidc,
            self.require_second_factor,
            self.require_verified_email,
        )
        .map_err(|e| format!("configuration: {e}"))?;
        let positive = [
            ("session_idle_minutes", self.session_idle_minutes),
            ("session_absolute_minutes", self.session_absolute_minutes),
            ("reauth_minutes", self.reauth_minutes),
            ("hash_concurrency", self.hash_concurrency as u64),
            ("header_read_timeout_secs", self.header_read_timeout_secs),
            ("body_read_timeout_secs", self.body_read_timeout_secs),
            ("max_connections", self.max_connections as u64),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(format!("configuration: {name} must be greater than 0"));
            }
        }
        if self.session_idle_minutes > self.session_absolute_minutes {
            return Err(
                "configuration: session_idle_minutes must not exceed session_absolute_minutes"
                    .into(),
            );
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err("configuration: tls_cert and tls_key must be given together".into());
        }
        if self.database_tls_cert.is_some() != self.database_tls_key.is_some() {
            return Err(
                "configuration: database_tls_cert and database_tls_key must be given together"
                    .into(),
            );
        }
        let postgres_only = [
            (
                "database_password_token",
                self.database_password_token.is_some(),
            ),
            ("database_tls_cert", self.database_tls_cert.is_some()),
        ];
        for (name, set) in postgres_only {
            if set && !self.uses_postgres() {
                return Err(format!(
                    "configuration: {name} needs a postgres:// database_url"
                ));
            }
        }
        let smtp_only = [
            ("smtp_port", self.smtp_port.is_some()),
            ("smtp_username", self.smtp_username.is_some()),
            ("smtp_password_token", self.smtp_password_token.is_some()),
            ("smtp_password_file", self.smtp_password_file.is_some()),
            ("smtp_ca_file", self.smtp_ca_file.is_some()),
        ];
        for (name, set) in smtp_only {
            if set && self.smtp_host.is_none() {
                return Err(format!("configuration: {name} needs smtp_host"));
            }
        }
        if self.smtp_password_token.is_some() && self.smtp_password_file.is_some() {
            return Err(
                "configuration: give smtp_password_token or smtp_password_file, not both".into(),
            );
        }
        let has_password = self.smtp_password_token.is_some() || self.smtp_password_file.is_some();
        if has_password != self.smtp_username.is_some() {
            return Err("configuration: smtp_username and a password (smtp_password_token or smtp_password_file) must be given together".into());
        }
        self.trusted_proxies()?;
        if self.authz_listen.is_some() && self.trusted_proxies.is_empty() {
            return Err("configuration: authz_listen needs trusted_proxies (only a trusted proxy may ask the forward-auth endpoints)".into());
        }
        if self.authz_listen.is_some() && self.authz_listen == Some(self.listen) {
            return Err("configuration: authz_listen must differ from listen".into());
        }
        if self.http_redirect_listen.is_some() && self.tls_cert.is_none() {
            return Err("configuration: http_redirect_listen needs tls_cert and tls_key".into());
        }
        if let Some(origin) = &self.public_origin
            && !(origin.starts_with("https://") || origin.starts_with("http://"))
        {
            return Err("configuration: public_origin must start with https:// or http://".into());
        }
        if !self.listen.ip().is_loopback()
            && self.tls_cert.is_none()
            && self.trusted_proxies.is_empty()
        {
            return Err(format!(
                "configuration: listen={} is not loopback: give tls_cert/tls_key, or trusted_proxies for a TLS-terminating proxy",
                self.listen
            ));
        }
        Ok(())
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

    /// `trusted_proxies`, parsed (for the shield and the forward-auth endpoints alike).
    pub(crate) fn trusted_proxies(&self) -> Result<palisade::http::TrustedProxies, String> {
        let header = palisade::http::ClientAddressHeader::parse(&self.client_address_header)
            .map_err(|e| format!("configuration: client_address_header: {e}"))?;
        palisade::http::TrustedProxies::parse(self.trusted_proxies.iter().map(String::as_str))
            .map(|proxies| proxies.believing(header))
            .map_err(|e| format!("configuration: trusted_proxies: {e}"))
    }

    /// `cookie_domain`, checked: a host name (a leading dot is ignored) that is not a
    /// public suffix, contains `public_origin`'s host, and is served over https.
    pub(crate) fn cookie_domain(&self) -> Result<Option<String>, String> {
        let Some(given) = &self.cookie_domain else {
            return Ok(None);
        };
        let domain = given.trim_start_matches('.').to_ascii_lowercase();
        let fail = |why: String| Err(format!("configuration: cookie_domain {given:?}: {why}"));
        if !crate::authz::is_hostname(&domain) {
            return fail("not a host name".into());
        }
        if psl::domain_str(&domain).is_none() {
            return fail(
                "a public suffix: a cookie for it would reach other people's sites".into(),
            );
        }
        let origin = url::Url::parse(&self.origin())
            .map_err(|e| format!("configuration: public_origin: {e}"))?;
        if origin.scheme() != "https" {
            return fail("needs an https public_origin (the cookie is Secure)".into());
        }
        let host = origin.host_str().unwrap_or_default();
        let contains = host == domain
            || host
                .strip_suffix(domain.as_str())
                .is_some_and(|rest| rest.ends_with('.'));
        if !contains {
            return fail(format!("does not contain public_origin's host {host}"));
        }
        Ok(Some(domain))
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
