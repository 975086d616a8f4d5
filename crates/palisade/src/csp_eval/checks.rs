//! The weaknesses: each check reads the parsed policy and adds findings.

use std::net::IpAddr;

use super::{Finding, Policy, Severity};

pub(super) fn has_nonce_or_hash(values: &[String]) -> bool {
    values.iter().any(|v| {
        v.starts_with("'nonce-")
            || v.starts_with("'sha256-")
            || v.starts_with("'sha384-")
            || v.starts_with("'sha512-")
    })
}

pub(super) fn has(values: &[String], keyword: &str) -> bool {
    values.iter().any(|v| v == keyword)
}

/// The host part of a source expression, lower-cased, without scheme, port or path.
pub(super) fn host(source: &str) -> Option<String> {
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

pub(super) fn is_wildcard(source: &str) -> bool {
    source == "*" || host(source).is_some_and(|h| h == "*")
}

pub(super) fn is_plain_scheme(source: &str) -> bool {
    source.ends_with(':') && !source.starts_with('\'') && !source.contains('/')
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
    super::script::script_checks(policy, findings);
    other_checks(policy, findings);
}
