//! Checks on the directives that govern scripts (`script-src` and its `-elem`/`-attr`
//! variants): unsafe keywords, allowed sources, nonces.

use std::collections::BTreeSet;

use super::checks::{has, has_nonce_or_hash, host, is_plain_scheme, is_wildcard};
use super::{Finding, Policy, Severity};

/// Domains (and their subdomains) that serve JSONP endpoints or old AngularJS, which turn a
/// host allowlist into a script-injection bypass. Drawn from Google's CSP Evaluator
/// research; a test checks each against the published lists.
pub(crate) const GADGET_HOSTS: &[&str] = &[
    "google.com",
    "gstatic.com",
    "googleapis.com",
    "googletagmanager.com",
    "google-analytics.com",
    "youtube.com",
    "googleusercontent.com",
    "doubleclick.net",
    "googleadservices.com",
    "cdnjs.cloudflare.com",
    "cdn.jsdelivr.net",
    "yandex.ru",
    "vk.com",
    "twitter.com",
    "facebook.com",
    "baidu.com",
    "yahoo.com",
];

pub(super) fn script_checks(policy: &Policy, findings: &mut Vec<Finding>) {
    let mut seen = BTreeSet::new();
    for name in ["script-src", "script-src-elem", "script-src-attr"] {
        let Some((effective, values)) = policy.effective(name) else {
            continue;
        };
        if !seen.insert(effective) {
            continue;
        }
        script_keyword_checks(effective, values, findings);
        script_source_checks(effective, values, findings);
        nonce_checks(effective, values, findings);
        if !has_nonce_or_hash(values)
            && !has(values, "'none'")
            && !values.is_empty()
            && !findings
                .iter()
                .any(|f| f.directive == effective && f.severity == Severity::High)
        {
            findings.push(Finding::new(
                Severity::Low,
                "script-no-nonce",
                effective,
                "relies on an allowlist, not nonces or hashes",
                "Adopt a strict CSP: nonces with 'strict-dynamic'",
            ));
        }
    }
    if policy.effective("script-src").is_none() {
        findings.push(Finding::new(
            Severity::High,
            "missing-script-src",
            "policy",
            "sets neither script-src nor default-src: scripts are not restricted",
            "Add script-src with a nonce, or default-src 'none'",
        ));
    }
}

/// The `'unsafe-…'` keywords, and `'strict-dynamic'` without a nonce or hash.
fn script_keyword_checks(effective: &str, values: &[String], findings: &mut Vec<Finding>) {
    let strict = has_nonce_or_hash(values);
    let strict_dynamic = has(values, "'strict-dynamic'");
    if has(values, "'unsafe-inline'") {
        if strict {
            findings.push(Finding::new(Severity::Info, "script-unsafe-inline-fallback", effective, "has 'unsafe-inline' beside a nonce or hash: CSP3 browsers ignore it, old ones need it", "Keep only if you support browsers without CSP Level 2"));
        } else {
            findings.push(Finding::new(
                Severity::High,
                "script-unsafe-inline",
                effective,
                "allows inline scripts: any injected <script> runs",
                "Remove 'unsafe-inline'; use a per-response nonce or hashes",
            ));
        }
    }
    if has(values, "'unsafe-eval'") {
        findings.push(Finding::new(
            Severity::Medium,
            "script-unsafe-eval",
            effective,
            "allows eval(): injected strings can become code",
            "Remove 'unsafe-eval' and the eval()/new Function() calls that need it",
        ));
    }
    if has(values, "'unsafe-hashes'") {
        findings.push(Finding::new(
            Severity::Medium,
            "script-unsafe-hashes",
            effective,
            "allows inline event handlers by hash",
            "Move handlers into scripts (addEventListener)",
        ));
    }
    if strict_dynamic && !strict {
        findings.push(Finding::new(Severity::High, "strict-dynamic-without-nonce", effective, "has 'strict-dynamic' but no nonce or hash: no script can load, or old browsers fall back to the allowlist", "Add a per-response nonce"));
    }
}

/// Each allowed source: wildcards, bare schemes, hosts known to serve allowlist bypasses,
/// host allowlists. Hosts are ignored beside a nonce and `'strict-dynamic'`, as browsers do.
fn script_source_checks(effective: &str, values: &[String], findings: &mut Vec<Finding>) {
    let strict = has_nonce_or_hash(values);
    let strict_dynamic = has(values, "'strict-dynamic'");
    for source in values {
        if strict_dynamic && strict && !source.starts_with('\'') {
            continue; // ignored by browsers that support 'strict-dynamic'
        }
        if is_wildcard(source) {
            findings.push(Finding::new(
                Severity::High,
                "script-wildcard",
                effective,
                &format!("allows scripts from {source}: any host"),
                "Use a nonce with 'strict-dynamic' instead of hosts",
            ));
        } else if is_plain_scheme(source) {
            findings.push(Finding::new(
                Severity::High,
                "script-plain-scheme",
                effective,
                &format!("allows scripts from any {source} URL"),
                "Remove the scheme; use a nonce with 'strict-dynamic'",
            ));
        } else if let Some(h) = host(source) {
            if GADGET_HOSTS.iter().any(|g| {
                h == *g
                    || h.ends_with(&format!(".{g}"))
                    || (h.starts_with("*.") && (g.ends_with(&h[1..]) || &h[2..] == *g))
            }) {
                findings.push(Finding::new(
                    Severity::High,
                    "script-allowlist-bypass",
                    effective,
                    &format!(
                        "allows {source}, which serves JSONP or AngularJS that bypass the allowlist"
                    ),
                    "Use a nonce with 'strict-dynamic' instead of this host",
                ));
            } else if !strict {
                findings.push(Finding::new(
                    Severity::Medium,
                    "script-host-allowlist",
                    effective,
                    &format!("trusts every script on {source}"),
                    "Prefer a nonce with 'strict-dynamic' over host allowlists",
                ));
            }
        }
    }
}

/// Nonces that are short or look fixed.
fn nonce_checks(effective: &str, values: &[String], findings: &mut Vec<Finding>) {
    for nonce in values
        .iter()
        .filter_map(|v| v.strip_prefix("'nonce-").and_then(|n| n.strip_suffix('\'')))
    {
        let unique: BTreeSet<char> = nonce.chars().collect();
        let lower = nonce.to_ascii_lowercase();
        if nonce.len() < 8 {
            findings.push(Finding::new(
                Severity::Medium,
                "short-nonce",
                effective,
                "has a nonce shorter than 8 characters: guessable",
                "Use 128 random bits (22+ base64 characters) per response",
            ));
        } else if unique.len() <= 2
            || ["nonce", "random", "test", "abc", "123"]
                .iter()
                .any(|w| lower.contains(w))
        {
            findings.push(Finding::new(
                Severity::Medium,
                "static-nonce",
                effective,
                "has a nonce that looks fixed, not random",
                "Generate a fresh random nonce for every response",
            ));
        }
    }
}
