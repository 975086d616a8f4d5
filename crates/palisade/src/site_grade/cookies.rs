//! Checks on what the page sets and loads: cookie attributes and Subresource Integrity.

use super::{Check, Page, check};

/// Secure (over HTTPS), HttpOnly, SameSite, and the `__Host-` prefix rules.
pub(super) fn cookies(page: &Page<'_>) -> Check {
    let (h, https) = (page.headers, page.https);
    let mut cookie_problems = Vec::new();
    for value in h
        .get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        let name = value.split('=').next().unwrap_or("").trim().to_owned();
        let attrs: Vec<String> = value
            .split(';')
            .skip(1)
            .map(|a| a.trim().to_ascii_lowercase())
            .collect();
        let has = |a: &str| {
            attrs
                .iter()
                .any(|x| x == a || x.starts_with(&format!("{a}=")))
        };
        if https && !has("secure") {
            cookie_problems.push(format!("{name} lacks Secure"));
        }
        if !has("httponly") {
            cookie_problems.push(format!("{name} lacks HttpOnly"));
        }
        if !has("samesite") {
            cookie_problems.push(format!("{name} lacks SameSite"));
        }
        if name.starts_with("__Host-") && (!has("secure") || !has("path") || has("domain")) {
            cookie_problems.push(format!("{name} breaks the __Host- prefix rules"));
        }
    }
    let cookie_deduction = (cookie_problems.len() as u32 * 5).min(20);
    check(
        "cookies",
        cookie_problems.is_empty(),
        cookie_deduction,
        if cookie_problems.is_empty() {
            "cookies are Secure, HttpOnly and SameSite (or none are set)".to_owned()
        } else {
            cookie_problems.join("; ")
        },
        "Set Secure, HttpOnly, SameSite=Lax; prefer the __Host- prefix",
    )
}

/// Scripts from other hosts without `integrity=`.
pub(super) fn subresource_integrity(body: &str) -> Check {
    let lower_body = body.to_ascii_lowercase();
    let external_without_sri = lower_body
        .split("<script")
        .skip(1)
        .map(|tag| tag.split('>').next().unwrap_or(""))
        .filter(|tag| {
            tag.contains("src=\"http")
                || tag.contains("src='http")
                || tag.contains("src=\"//")
                || tag.contains("src='//")
        })
        .filter(|tag| !tag.contains("integrity="))
        .count() as u32;
    check(
        "sri",
        external_without_sri == 0,
        (external_without_sri * 5).min(15),
        format!("{external_without_sri} external scripts without integrity="),
        "Add integrity= (and crossorigin) to scripts from other hosts",
    )
}
