//! Checks on response headers: transport (HTTPS, HSTS), the CSP, browser protections,
//! and what the response exposes (CORS, banners).

use http::HeaderMap;

use super::{Check, Page, check, header};
use crate::csp_eval::{Severity, evaluate};

/// Plain HTTP (outside local development), the HTTP-to-HTTPS redirect, and HSTS.
pub(super) fn transport(page: &Page<'_>, checks: &mut Vec<Check>) {
    let (h, https) = (page.headers, page.https);
    let local_dev = !https && page.loopback;
    let http_redirects = page.http_redirects;
    if !https && !local_dev {
        checks.push(check(
            "https",
            false,
            50,
            "the page is served over plain HTTP",
            "Serve it over HTTPS and redirect HTTP to it",
        ));
    }
    if let Some(redirects) = http_redirects {
        checks.push(check(
            "http-redirect",
            redirects,
            20,
            if redirects {
                "plain HTTP redirects to HTTPS"
            } else {
                "plain HTTP does not redirect to HTTPS"
            },
            "Redirect every plain-HTTP page load to https://",
        ));
    }
    if https {
        match header(h, "strict-transport-security") {
            None => checks.push(check(
                "hsts",
                false,
                20,
                "no Strict-Transport-Security header",
                "Send Strict-Transport-Security: max-age=31536000; includeSubDomains",
            )),
            Some(v) => {
                let lower = v.to_ascii_lowercase();
                let age = lower
                    .split(';')
                    .find_map(|p| p.trim().strip_prefix("max-age="))
                    .and_then(|a| a.trim_matches('"').parse::<u64>().ok())
                    .unwrap_or(0);
                checks.push(check(
                    "hsts-max-age",
                    age >= 15_552_000,
                    10,
                    format!("HSTS max-age is {age} seconds"),
                    "Use max-age of at least one year (31536000)",
                ));
                checks.push(check(
                    "hsts-subdomains",
                    lower.contains("includesubdomains"),
                    0,
                    if lower.contains("includesubdomains") {
                        "HSTS covers subdomains"
                    } else {
                        "HSTS does not cover subdomains (informational)"
                    },
                    "Add includeSubDomains once every subdomain serves HTTPS",
                ));
            }
        }
    }
}

/// A CSP must be present and judged strict by [`crate::csp_eval`].
pub(super) fn content_security_policy(h: &HeaderMap, checks: &mut Vec<Check>) {
    match header(h, "content-security-policy") {
        None => checks.push(check(
            "csp",
            false,
            25,
            "no Content-Security-Policy (report-only does not protect)",
            "Send a nonce-based policy: palisade csp check helps",
        )),
        Some(policy) => {
            let report = evaluate(policy);
            let (deduction, what) = match report.worst() {
                Some(Severity::High) => (20, "has high-severity weaknesses"),
                Some(Severity::Medium) => (10, "has medium-severity weaknesses"),
                Some(Severity::Low) => (5, "has low-severity weaknesses"),
                _ => (0, "is strict"),
            };
            let first = report
                .findings
                .iter()
                .find(|f| f.severity > Severity::Info)
                .map(|f| format!(" (first: {} — {})", f.id, f.message))
                .unwrap_or_default();
            checks.push(check(
                "csp-quality",
                deduction == 0,
                deduction,
                format!("the CSP {what}{first}"),
                "Run palisade csp check on the policy and apply its fixes",
            ));
        }
    }
}

/// Sniffing, framing, referrer, COOP and CORP.
pub(super) fn browser_protections(h: &HeaderMap, checks: &mut Vec<Check>) {
    checks.push(check(
        "nosniff",
        header(h, "x-content-type-options").is_some_and(|v| v.eq_ignore_ascii_case("nosniff")),
        5,
        "X-Content-Type-Options: nosniff",
        "Send X-Content-Type-Options: nosniff",
    ));
    let csp_frames = header(h, "content-security-policy")
        .is_some_and(|p| p.to_ascii_lowercase().contains("frame-ancestors"));
    let xfo = header(h, "x-frame-options")
        .is_some_and(|v| ["deny", "sameorigin"].contains(&v.to_ascii_lowercase().as_str()));
    checks.push(check(
        "frame-protection",
        csp_frames || xfo,
        20,
        "framing is restricted (frame-ancestors or X-Frame-Options)",
        "Send frame-ancestors 'none' in the CSP (and X-Frame-Options: DENY)",
    ));
    let referrer = header(h, "referrer-policy").map(|v| v.to_ascii_lowercase());
    let safe_referrer = referrer
        .as_deref()
        .is_some_and(|v| !v.contains("unsafe-url") && !v.contains("no-referrer-when-downgrade"));
    checks.push(check(
        "referrer-policy",
        safe_referrer,
        5,
        format!(
            "Referrer-Policy: {}",
            referrer.as_deref().unwrap_or("(none)")
        ),
        "Send Referrer-Policy: no-referrer (or strict-origin-when-cross-origin)",
    ));
    checks.push(check(
        "coop",
        header(h, "cross-origin-opener-policy").is_some(),
        5,
        "Cross-Origin-Opener-Policy",
        "Send Cross-Origin-Opener-Policy: same-origin",
    ));
    checks.push(check(
        "corp",
        header(h, "cross-origin-resource-policy").is_some(),
        5,
        "Cross-Origin-Resource-Policy",
        "Send Cross-Origin-Resource-Policy: same-origin",
    ));
}

/// Credentialed CORS for any origin, and version banners.
pub(super) fn exposure(h: &HeaderMap, checks: &mut Vec<Check>) {
    let acao = header(h, "access-control-allow-origin");
    let credentialed = header(h, "access-control-allow-credentials")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let bad_cors = credentialed && acao.is_some_and(|o| o == "*" || o.contains("evil.example"));
    checks.push(check(
        "cors",
        !bad_cors,
        50,
        if bad_cors {
            "credentialed CORS for any origin"
        } else {
            "no credentialed CORS for arbitrary origins"
        },
        "Allow credentials only for a fixed list of origins",
    ));
    let banner = header(h, "x-powered-by").is_some()
        || header(h, "server").is_some_and(|s| s.chars().any(|c| c.is_ascii_digit()));
    checks.push(check(
        "banner",
        !banner,
        5,
        if banner {
            "Server or X-Powered-By reveals the software"
        } else {
            "no version banner"
        },
        "Remove X-Powered-By and the version from Server",
    ));
}
