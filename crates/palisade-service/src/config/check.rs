//! What makes a configuration acceptable: each rule a sentence naming the setting, and all
//! of them reported at once.

use super::Config;

/// A helper's own message already says `configuration: …`; passed on as it is.
fn problems_push(fail: &mut impl FnMut(String), message: String) {
    fail(
        message
            .strip_prefix("configuration: ")
            .unwrap_or(&message)
            .to_owned(),
    );
}

impl Config {
    /// Every reason this configuration cannot serve, each a sentence naming its setting.
    pub(super) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut fail = |problem: String| problems.push(format!("configuration: {problem}"));
        if let Err(e) = self.cookie_domain() {
            problems_push(&mut fail, e);
        }
        // A rule set that cannot be read stops the start, naming the rule and the field.
        if let Err(e) = crate::authz::AccessRules::compile(&self.access_control) {
            fail(e.to_string());
        }
        // So does a client that cannot be read, naming the client and the field.
        if let Err(e) = crate::oidc::Clients::compile_config(
            &self.oidc,
            self.require_second_factor,
            self.require_verified_email,
        ) {
            fail(e.to_string());
        }
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
                fail(format!("{name} must be greater than 0"));
            }
        }
        if self.session_idle_minutes > self.session_absolute_minutes {
            fail("session_idle_minutes must not exceed session_absolute_minutes".into());
        }
        let pairs = [
            (
                "tls_cert",
                self.tls_cert.is_some(),
                "tls_key",
                self.tls_key.is_some(),
            ),
            (
                "database_tls_cert",
                self.database_tls_cert.is_some(),
                "database_tls_key",
                self.database_tls_key.is_some(),
            ),
        ];
        for (one, one_set, other, other_set) in pairs {
            if one_set != other_set {
                fail(format!("{one} and {other} must be given together"));
            }
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
                fail(format!("{name} needs a postgres:// database_url"));
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
                fail(format!("{name} needs smtp_host"));
            }
        }
        if self.smtp_password_token.is_some() && self.smtp_password_file.is_some() {
            fail("give smtp_password_token or smtp_password_file, not both".into());
        }
        let has_password = self.smtp_password_token.is_some() || self.smtp_password_file.is_some();
        if has_password != self.smtp_username.is_some() {
            fail("smtp_username and a password (smtp_password_token or smtp_password_file) must be given together".into());
        }
        if let Err(e) = self.trusted_proxies() {
            problems_push(&mut fail, e);
        }
        if self.authz_listen.is_some() && self.trusted_proxies.is_empty() {
            fail("authz_listen needs trusted_proxies (only a trusted proxy may ask the forward-auth endpoints)".into());
        }
        if self.authz_listen.is_some() && self.authz_listen == Some(self.listen) {
            fail("authz_listen must differ from listen".into());
        }
        if self.http_redirect_listen.is_some() && self.tls_cert.is_none() {
            fail("http_redirect_listen needs tls_cert and tls_key".into());
        }
        if let Some(origin) = &self.public_origin
            && !(origin.starts_with("https://") || origin.starts_with("http://"))
        {
            fail("public_origin must start with https:// or http://".into());
        }
        if !self.listen.ip().is_loopback()
            && self.tls_cert.is_none()
            && self.trusted_proxies.is_empty()
        {
            fail(format!(
                "listen={} is not loopback: give tls_cert/tls_key, or trusted_proxies for a TLS-terminating proxy",
                self.listen
            ));
        }
        if !crate::authz::is_group_name(&self.admin_group) {
            fail(format!(
                "admin_group {:?}: use 1 to 64 lowercase letters, digits, '-', '_' or '.', starting with a letter or digit",
                self.admin_group
            ));
        }
        if let Some(colour) = &self.accent_colour
            && crate::web::AccentColour::parse(colour).is_none()
        {
            fail(format!(
                "accent_colour {colour:?} is not a colour written #rrggbb (six hexadecimal digits)"
            ));
        }
        // Files the service reads at start: a missing one is named now, not at first use.
        let files = [
            ("tls_cert", &self.tls_cert),
            ("tls_key", &self.tls_key),
            ("database_tls_cert", &self.database_tls_cert),
            ("database_tls_key", &self.database_tls_key),
            ("smtp_password_file", &self.smtp_password_file),
            ("smtp_ca_file", &self.smtp_ca_file),
            ("password_blocklist", &self.password_blocklist),
            ("logo_file", &self.logo_file),
        ];
        for (name, file) in files {
            if let Some(file) = file
                && !file.is_file()
            {
                fail(format!("{name}: {} is not a file", file.display()));
            }
        }
        problems
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
}
