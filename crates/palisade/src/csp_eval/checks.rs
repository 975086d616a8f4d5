//! The weaknesses: each check reads the parsed policy and adds findings.

use std::collections::BTreeSet;
use std::net::IpAddr;

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

fn has_nonce_or_hash(values: &[String]) -> bool {
    values.iter().any(|v| {
        v.starts_with("'nonce-")
            || v.starts_with("'sha256-")
            || v.starts_with("'sha384-")
            || v.starts_with("'sha512-")
    })
}

fn has(values: &[String], keyword: &str) -> bool {
    values.iter().any(|v| v == keyword)
}

/// The host part of a source expression, lower-cased, without scheme, port or path.
fn host(source: &str) -> Option<String> {
    if source.starts_with('\'') || source == "*" || (source.ends_with(':') && !source.contains('/'))
    {
        return None;
    }
    let rest = source
        .split_once("://")
        .map_or(source, |(_, r)| r)
        .trim_start_matches("//");
    let host = if let Some(v6) = rest.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        rest.split(['/', ':']).next()?
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

fn is_wildcard(source: &str) -> bool {
    source == "*" || host(source).is_some_and(|h| h == "*")
}

fn is_plain_scheme(source: &str) -> bool {
    source.ends_with(':') && !source.starts_with('\'') && !source.contains('/')
}

fn script_checks(policy: &Policy, findings: &mut Vec<Finding>) {
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

fn other_checks(policy: &Policy, findings: &mut Vec<Finding>) {
    plugin_and_base_checks(policy, findings);
    style_and_source_checks(policy, findings);
    framing_and_reporting_checks(policy, findings);
    trusted_types_check(policy, findings);
}

/// `object-src` (plugins) and `base-uri` (a `<base>` tag redirects relative scripts).
fn plugin_and_base_checks(policy: &Policy, findings: &mut Vec<Finding>) {
    match policy.effective("object-src") {
        None => findings.push(Finding::new(
            Severity::High,
            "missing-object-src",
            "policy",
            "does not restrict plugins (object-src): <object> and <embed> can run code",
            "Add object-src 'none'",
        )),
        Some((name, values)) if !has(values, "'none'") => {
            let sev = if values.iter().any(|v| is_wildcard(v) || is_plain_scheme(v)) {
                Severity::High
            } else {
                Severity::Low
            };
            findings.push(Finding::new(
                sev,
                "object-src-allows",
                name,
                "allows plugin content",
                "Use object-src 'none'",
            ));
        }
        _ => {}
    }
    match policy.get("base-uri") {
        None => {
            let nonce_based = policy
                .effective("script-src")
                .is_some_and(|(_, v)| has_nonce_or_hash(v));
            let (sev, why) = if nonce_based {
                (
                    Severity::High,
                    "an injected <base> re-points relative nonced scripts to another host",
                )
            } else {
                (
                    Severity::Low,
                    "an injected <base> can re-point relative URLs",
                )
            };
            findings.push(Finding::new(
                sev,
                "missing-base-uri",
                "policy",
                &format!("does not set base-uri: {why}"),
                "Add base-uri 'none' (or 'self')",
            ));
        }
        Some(values) if values.iter().any(|v| is_wildcard(v) || is_plain_scheme(v)) => {
            findings.push(Finding::new(
                Severity::High,
                "base-uri-allows-any",
                "base-uri",
                "allows <base> to point anywhere",
                "Use base-uri 'none' or 'self'",
            ));
        }
        _ => {}
    }
}

/// Inline styles, and sources that are unsafe in any directive.
fn style_and_source_checks(policy: &Policy, findings: &mut Vec<Finding>) {
    if let Some((name, values)) = policy.effective("style-src")
        && has(values, "'unsafe-inline'")
        && !has_nonce_or_hash(values)
    {
        findings.push(Finding::new(
            Severity::Low,
            "style-unsafe-inline",
            name,
            "allows inline styles: CSS injection can restyle or exfiltrate",
            "Use style nonces or stylesheets",
        ));
    }
    for d in &policy.directives {
        for v in &d.values {
            if v == "http:" || v.starts_with("http://") {
                findings.push(Finding::new(
                    Severity::Medium,
                    "insecure-scheme",
                    &d.name,
                    &format!("allows {v} over plain HTTP: a network attacker can replace it"),
                    "Use https: sources",
                ));
            }
            if host(v).is_some_and(|h| h.trim_matches(['[', ']']).parse::<IpAddr>().is_ok()) {
                findings.push(Finding::new(
                    Severity::Info,
                    "ip-source",
                    &d.name,
                    &format!("names an IP address ({v}): usually a development left-over"),
                    "Use host names",
                ));
            }
        }
        let deprecated = match d.name.as_str() {
            "block-all-mixed-content" => {
                Some("is deprecated: upgrade-insecure-requests replaces it")
            }
            "plugin-types" => Some("is deprecated and ignored: use object-src 'none'"),
            "prefetch-src" | "referrer" | "reflected-xss" | "require-sri-for" | "navigate-to" => {
                Some("is deprecated or was never shipped: browsers ignore it")
            }
            _ => None,
        };
        if let Some(why) = deprecated {
            findings.push(Finding::new(
                Severity::Info,
                "deprecated-directive",
                &d.name,
                why,
                "Remove it",
            ));
        }
    }
}

/// `frame-ancestors` (clickjacking) and reporting.
fn framing_and_reporting_checks(policy: &Policy, findings: &mut Vec<Finding>) {
    if policy.get("frame-ancestors").is_none() {
        findings.push(Finding::new(
            Severity::Medium,
            "missing-frame-ancestors",
            "policy",
            "does not restrict framing: clickjacking is possible",
            "Add frame-ancestors 'none' (or 'self')",
        ));
    }
    match (
        policy.get("report-uri").is_some(),
        policy.get("report-to").is_some(),
    ) {
        (false, false) => findings.push(Finding::new(
            Severity::Info,
            "missing-reporting",
            "policy",
            "sends no violation reports: breakage and attacks go unseen",
            "Add report-to (and a Reporting-Endpoints header)",
        )),
        (true, false) => findings.push(Finding::new(
            Severity::Info,
            "report-uri-only",
            "report-uri",
            "is deprecated without report-to",
            "Add report-to; keep report-uri only as a fallback",
        )),
        _ => {}
    }
}

/// Trusted Types, which stop DOM XSS sinks.
fn trusted_types_check(policy: &Policy, findings: &mut Vec<Finding>) {
    if policy.get("require-trusted-types-for").is_none() {
        findings.push(Finding::new(
            Severity::Info,
            "trusted-types-not-required",
            "policy",
            "does not require Trusted Types: DOM XSS sinks take plain strings",
            "Add require-trusted-types-for 'script'",
        ));
    }
}

pub(crate) fn run(policy: &Policy, findings: &mut Vec<Finding>) {
    script_checks(policy, findings);
    other_checks(policy, findings);
}
