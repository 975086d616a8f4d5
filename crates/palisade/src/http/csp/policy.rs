//! Content-Security-Policy values, built and validated.

use super::super::ConfigError;

/// Stands for the per-response nonce in a source list.
pub const NONCE: &str = "'nonce'";

use crate::csp_eval::{CURRENT_DIRECTIVES as DIRECTIVES, DEPRECATED_DIRECTIVES as DEPRECATED};

const KEYWORDS: &[&str] = &[
    "'self'",
    "'none'",
    "'strict-dynamic'",
    "'report-sample'",
    "'wasm-unsafe-eval'",
    "'inline-speculation-rules'",
    "'script'",
    "'allow-duplicates'",
];
const UNSAFE: &[&str] = &["'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'"];

/// A policy: ordered directives whose sources were checked when added, so nothing in it
/// can break the header (`;`, `,`, quotes, whitespace, control bytes) or weaken the policy
/// behind the operator's back (`'unsafe-*'`, fixed nonces, deprecated directives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CspPolicy {
    directives: Vec<(String, Vec<String>)>,
    report_only: bool,
}

impl CspPolicy {
    /// An empty policy (add directives with [`CspPolicy::directive`]).
    pub fn empty() -> Self {
        Self {
            directives: Vec::new(),
            report_only: false,
        }
    }

    /// The strict default: nothing is allowed unless listed; scripts only by nonce (with
    /// `'strict-dynamic'`, so scripts they load are trusted too); styles from this origin
    /// or by nonce; images from this origin and `data:`; fetches and form posts to this
    /// origin; no framing, no `<base>`, no plugins; Trusted Types required for DOM sinks;
    /// mixed content upgraded; violations reported to the `csp-endpoint` reporting group.
    pub fn strict() -> Self {
        let build = || -> Result<Self, ConfigError> {
            Self::empty()
                .directive("default-src", ["'none'"])?
                .directive("script-src", [NONCE, "'strict-dynamic'"])?
                .directive("style-src", ["'self'", NONCE])?
                .directive("img-src", ["'self'", "data:"])?
                .directive("font-src", ["'self'"])?
                .directive("connect-src", ["'self'"])?
                .directive("manifest-src", ["'self'"])?
                .directive("form-action", ["'self'"])?
                .directive("frame-ancestors", ["'none'"])?
                .directive("base-uri", ["'none'"])?
                .directive("object-src", ["'none'"])?
                .directive("require-trusted-types-for", ["'script'"])?
                .directive("upgrade-insecure-requests", [""; 0])?
                .directive("report-to", ["csp-endpoint"])
        };
        build().expect("the strict policy is valid")
    }

    /// Sends the policy as `Content-Security-Policy-Report-Only`: violations are reported,
    /// nothing is blocked. For trying a policy on a live site.
    pub fn report_only(mut self, report_only: bool) -> Self {
        self.report_only = report_only;
        self
    }

    /// Whether the policy is report-only.
    pub fn is_report_only(&self) -> bool {
        self.report_only
    }

    /// Adds or replaces a directive. Names are checked against CSP Level 3 (deprecated ones
    /// refused); each source must be a keyword, a hash, a scheme (`data:`), a host source,
    /// or [`NONCE`].
    pub fn directive<'a>(
        mut self,
        name: &str,
        sources: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, ConfigError> {
        let name = name.to_ascii_lowercase();
        if DEPRECATED.contains(&name.as_str()) {
            return Err(ConfigError::new("csp", "uses a deprecated directive"));
        }
        if !DIRECTIVES.contains(&name.as_str()) {
            return Err(ConfigError::new("csp", "names an unknown directive"));
        }
        let sources: Vec<String> = sources.into_iter().map(str::to_owned).collect();
        for source in &sources {
            check_source(&name, source)?;
        }
        if sources.len() > 1 && sources.iter().any(|s| s == "'none'") {
            return Err(ConfigError::new(
                "csp",
                "'none' must be the only source of its directive",
            ));
        }
        self.directives.retain(|(n, _)| *n != name);
        self.directives.push((name, sources));
        Ok(self)
    }

    /// The policy text, split where the nonce goes; `upgrade-insecure-requests` is left out
    /// when `https` is false (a loopback development server has no HTTPS to upgrade to).
    pub(crate) fn template(&self, https: bool) -> Vec<String> {
        let mut parts = vec![String::new()];
        for (name, sources) in &self.directives {
            if name == "upgrade-insecure-requests" && !https {
                continue;
            }
            let started = parts.len() > 1 || !parts[0].is_empty();
            let current = parts.last_mut().expect("never empty");
            if started {
                current.push_str("; ");
            }
            current.push_str(name);
            for source in sources {
                parts.last_mut().expect("never empty").push(' ');
                if source == NONCE {
                    parts.last_mut().expect("never empty").push_str("'nonce-");
                    parts.push("'".to_owned());
                } else {
                    parts.last_mut().expect("never empty").push_str(source);
                }
            }
        }
        parts
    }

    /// The policy with `nonce` filled in.
    pub fn render(&self, nonce: &str, https: bool) -> String {
        self.template(https).join(nonce)
    }

    /// Whether some directive names the reporting group.
    pub(crate) fn reports_to(&self) -> Option<&str> {
        self.directives
            .iter()
            .find(|(n, _)| n == "report-to")
            .and_then(|(_, s)| s.first())
            .map(String::as_str)
    }
}

fn check_source(directive: &str, source: &str) -> Result<(), ConfigError> {
    let err = |why| Err(ConfigError::new("csp", why));
    if source.is_empty() || source.len() > 256 {
        return err("has an empty or overlong source");
    }
    if source.bytes().any(|b| {
        b.is_ascii_whitespace()
            || b.is_ascii_control()
            || matches!(b, b';' | b',' | b'"')
            || !b.is_ascii()
    }) {
        return err(
            "has a source with whitespace, ';', ',', '\"', control or non-ASCII characters",
        );
    }
    if directive == "report-to" {
        return if source
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        {
            Ok(())
        } else {
            err("report-to takes a group name of letters, digits, '-' and '_'")
        };
    }
    if source == NONCE {
        return Ok(());
    }
    if UNSAFE.contains(&source) {
        return err(
            "'unsafe-inline', 'unsafe-eval' and 'unsafe-hashes' are refused: use nonces or hashes",
        );
    }
    if source.starts_with("'nonce-") {
        return err("a fixed nonce is a password printed in every page: use NONCE for a fresh one");
    }
    if let Some(hash) = ["'sha256-", "'sha384-", "'sha512-"]
        .iter()
        .find_map(|p| source.strip_prefix(p))
    {
        let body = hash.strip_suffix('\'').unwrap_or("");
        let ok = !body.is_empty()
            && body.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_')
            });
        return if ok {
            Ok(())
        } else {
            err("has a malformed hash source")
        };
    }
    if source.starts_with('\'') {
        return if KEYWORDS.contains(&source) {
            Ok(())
        } else {
            err("has an unknown quoted keyword")
        };
    }
    if matches!(directive, "sandbox" | "trusted-types") {
        return Ok(());
    }
    // Scheme (`data:`) or host source (`https://cdn.example.com:443/path`, `*.example.com`).
    let ok = source
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~:/*%?=&+@[]".contains(&b));
    if ok {
        Ok(())
    } else {
        err("has a source with characters not allowed in a host or scheme")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_policy_text() {
        let text = CspPolicy::strict().render("abc", true);
        assert_eq!(
            text,
            "default-src 'none'; script-src 'nonce-abc' 'strict-dynamic'; style-src 'self' 'nonce-abc'; \
             img-src 'self' data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'; object-src 'none'; require-trusted-types-for 'script'; \
             upgrade-insecure-requests; report-to csp-endpoint"
        );
        assert!(!text.contains("unsafe"));
        assert!(
            !CspPolicy::strict()
                .render("abc", false)
                .contains("upgrade-insecure-requests")
        );
    }

    #[test]
    fn sources_that_would_break_the_header_or_policy_are_refused() {
        for bad in [
            "https://a.example; script-src *",
            "https://a.example,evil",
            "'self' 'unsafe-inline'",
            "a\r\nSet-Cookie: x=1",
            "\"quoted\"",
            "'unsafe-inline'",
            "'unsafe-eval'",
            "'nonce-static123'",
            "'sha256-'",
            "'selff'",
            "",
            "héllo.example",
        ] {
            assert!(
                CspPolicy::empty().directive("script-src", [bad]).is_err(),
                "{bad:?}"
            );
        }
        assert!(
            CspPolicy::empty()
                .directive("script-src", ["'none'", "'self'"])
                .is_err()
        );
        assert!(
            CspPolicy::empty()
                .directive("block-all-mixed-content", [""; 0])
                .is_err()
        );
        assert!(CspPolicy::empty().directive("report-uri", ["/r"]).is_err());
        assert!(
            CspPolicy::empty()
                .directive("scirpt-src", ["'self'"])
                .is_err()
        );
        let ok = CspPolicy::empty()
            .directive(
                "script-src",
                [NONCE, "'sha256-abc+/=='", "https://cdn.example.com/js/"],
            )
            .unwrap();
        assert_eq!(
            ok.render("N", true),
            "script-src 'nonce-N' 'sha256-abc+/==' https://cdn.example.com/js/"
        );
    }
}
