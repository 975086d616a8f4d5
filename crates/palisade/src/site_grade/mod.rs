//! Grades a page's response as a visitor's browser would meet it: HTTPS and HSTS, the CSP
//! (judged by [`crate::csp_eval`]), framing, sniffing, referrer, COOP/CORP, credentialed
//! CORS, version banners, cookies and Subresource Integrity. Pure: the caller fetches.
//!
//! Each check subtracts points from 100 when it fails; the score maps to a letter, A+ for
//! palisade's own defaults.
//!
//! # Example
//! ```
//! use palisade::site_grade::{Page, grade_page, letter, score};
//! let headers = http::HeaderMap::new();
//! let checks = grade_page(&Page { https: false, loopback: false, headers: &headers, body: "", http_redirects: None });
//! assert_eq!(letter(score(&checks)), "F");
//! ```

mod cookies;
mod headers;

use http::HeaderMap;

/// What was fetched, as the grading needs it.
#[derive(Debug, Clone, Copy)]
pub struct Page<'a> {
    /// Whether the final URL is `https://`.
    pub https: bool,
    /// Whether it is a loopback address (plain HTTP is then local development, not a fault).
    pub loopback: bool,
    /// The final response's headers.
    pub headers: &'a HeaderMap,
    /// Its body (for `<script src>` without integrity).
    pub body: &'a str,
    /// Whether the plain-HTTP version redirects to HTTPS, when that was tried.
    pub http_redirects: Option<bool>,
}

/// One graded check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// A stable identifier (`hsts-max-age`, `csp-quality`, …).
    pub id: &'static str,
    /// Points subtracted (0 when passed or not applicable).
    pub deduction: u32,
    /// Whether it passed.
    pub passed: bool,
    /// What was found.
    pub message: String,
    /// How to fix it.
    pub fix: &'static str,
}

pub(crate) fn check(
    id: &'static str,
    passed: bool,
    deduction: u32,
    message: impl Into<String>,
    fix: &'static str,
) -> Check {
    Check {
        id,
        deduction: if passed { 0 } else { deduction },
        passed,
        message: message.into(),
        fix,
    }
}

pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Every check, in a fixed order.
pub fn grade_page(page: &Page<'_>) -> Vec<Check> {
    let mut checks = Vec::new();
    headers::transport(page, &mut checks);
    headers::content_security_policy(page.headers, &mut checks);
    headers::browser_protections(page.headers, &mut checks);
    headers::exposure(page.headers, &mut checks);
    checks.push(cookies::cookies(page));
    checks.push(cookies::subresource_integrity(page.body));
    checks
}

/// 100 less every deduction, never below 0.
pub fn score(checks: &[Check]) -> u32 {
    100u32.saturating_sub(checks.iter().map(|c| c.deduction).sum())
}

/// The letter for a score: A+ at 100, A from 90, B from 80, C from 70, D from 60, else F.
pub fn letter(score: u32) -> &'static str {
    match score {
        100.. => "A+",
        90..=99 => "A",
        80..=89 => "B",
        70..=79 => "C",
        60..=69 => "D",
        _ => "F",
    }
}

/// The rank of a letter (F = 0 … A+ = 5), case-insensitive; unknown letters rank as F.
pub fn letter_rank(letter: &str) -> usize {
    ["F", "D", "C", "B", "A", "A+"]
        .iter()
        .position(|x| x.eq_ignore_ascii_case(letter))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_static(value));
        }
        h
    }

    const STRICT: &[(&str, &str)] = &[
        (
            "strict-transport-security",
            "max-age=31536000; includeSubDomains",
        ),
        (
            "content-security-policy",
            "default-src 'none'; script-src 'nonce-Hm6RTbtYYP2D5eCGdQHrA' 'strict-dynamic'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        ),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
        (
            "set-cookie",
            "__Host-s=1; Secure; HttpOnly; SameSite=Lax; Path=/",
        ),
    ];

    fn page(h: &HeaderMap, body: &'static str) -> Vec<Check> {
        grade_page(&Page {
            https: true,
            loopback: false,
            headers: h,
            body,
            http_redirects: Some(true),
        })
    }

    #[test]
    fn strict_headers_get_a_plus_and_each_weakness_costs_points() {
        let strict = headers(STRICT);
        let checks = page(&strict, "<script nonce=abc src=/app.js></script>");
        assert_eq!(letter(score(&checks)), "A+", "{checks:#?}");

        let mut weak = headers(&STRICT[1..]);
        weak.insert("set-cookie", HeaderValue::from_static("sid=1; Path=/"));
        weak.insert("server", HeaderValue::from_static("nginx/1.25.3"));
        let checks = page(&weak, "<script src=\"https://cdn.example/x.js\"></script>");
        let failed: Vec<_> = checks.iter().filter(|c| !c.passed).map(|c| c.id).collect();
        assert_eq!(failed, ["hsts", "banner", "cookies", "sri"], "{checks:#?}");
        assert_eq!(score(&checks), 100 - 20 - 5 - 15 - 5);
    }

    #[test]
    fn nothing_over_plain_http_is_an_f_and_ranks_order_letters() {
        let none = HeaderMap::new();
        let checks = grade_page(&Page {
            https: false,
            loopback: false,
            headers: &none,
            body: "",
            http_redirects: None,
        });
        assert_eq!(letter(score(&checks)), "F");
        assert!(letter_rank("a+") > letter_rank("A") && letter_rank("B") > letter_rank("zzz"));
    }
}
