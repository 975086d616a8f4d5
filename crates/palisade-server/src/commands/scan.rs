//! `palisade scan URL`: fetch a page the way a browser would and grade its defences.
//!
//! Scoring (also in the README): start at 100 and subtract, per check that fails, the points
//! shown beside it; the score never goes below 0. Grades: A+ = 100, A ≥ 90, B ≥ 80, C ≥ 70,
//! D ≥ 60, F below. HTTPS checks (redirect, HSTS, Secure cookies) do not apply to plain-HTTP
//! loopback targets (local development), so a local server can reach A+.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use http::HeaderMap;
use palisade::csp_eval::{Severity, evaluate};
use serde_json::json;

use crate::commands::csp::Format;

/// Bytes of body read at most (for subresource-integrity checks); the rest is not fetched.
const MAX_BODY: usize = 1024 * 1024;
const MAX_REDIRECTS: usize = 5;

#[derive(Args)]
pub(crate) struct ScanArgs {
    /// The page to scan (http:// or https://).
    url: String,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Trust this PEM CA certificate (for internal hosts), instead of the system's roots.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Seconds allowed for each request.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// Exit 1 when the grade is below this one.
    #[arg(long, default_value = "B")]
    fail_below: String,
}

/// One graded check.
#[derive(Debug, Clone)]
struct Check {
    id: &'static str,
    /// Points subtracted (0 when passed or not applicable).
    deduction: u32,
    passed: bool,
    message: String,
    fix: &'static str,
}

fn check(
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

struct Fetched {
    chain: Vec<(String, u16)>,
    headers: HeaderMap,
    body: String,
    truncated: bool,
}

fn client(args: &ScanArgs) -> Result<reqwest::Client, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(args.timeout.clamp(1, 120)))
        .connect_timeout(Duration::from_secs(args.timeout.clamp(1, 30)))
        .user_agent(concat!("palisade-scan/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &args.ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .map_err(|_| format!("{}: not a PEM certificate", path.display()))?;
        builder = builder.tls_certs_only([cert]);
    }
    builder.build().map_err(|e| format!("HTTP client: {e}"))
}

fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    if e.is_timeout() {
        return format!("timed out ({text})");
    }
    if text.contains("certificate") || text.contains("UnknownIssuer") {
        return format!("TLS certificate not trusted ({text}); for an internal CA use --ca-file");
    }
    text
}

async fn fetch(client: &reqwest::Client, start: &str) -> Result<Fetched, String> {
    let mut url = reqwest::Url::parse(start).map_err(|_| format!("{start}: not a valid URL"))?;
    let mut chain = Vec::new();
    for _ in 0..=MAX_REDIRECTS {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("{url}: only http and https can be scanned"));
        }
        if chain.iter().any(|(u, _)| *u == url.to_string()) {
            return Err(format!("redirect loop at {url}"));
        }
        // A foreign Origin shows whether credentialed CORS reflects any origin.
        let mut response = client
            .get(url.clone())
            .header(http::header::ORIGIN, "https://evil.example")
            .send()
            .await
            .map_err(|e| format!("{url}: {}", describe(&e)))?;
        let status = response.status();
        chain.push((url.to_string(), status.as_u16()));
        if status.is_redirection() {
            let location = response
                .headers()
                .get(http::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or(format!("{url}: redirect without a Location"))?;
            url = url
                .join(location)
                .map_err(|_| format!("{url}: invalid redirect target"))?;
            continue;
        }
        let headers = response.headers().clone();
        let mut body = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("{url}: {}", describe(&e)))?
        {
            body.extend_from_slice(&chunk);
            if body.len() >= MAX_BODY {
                body.truncate(MAX_BODY);
                truncated = true;
                break;
            }
        }
        return Ok(Fetched {
            chain,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            truncated,
        });
    }
    Err(format!(
        "more than {MAX_REDIRECTS} redirects starting at {start}"
    ))
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn grade_headers(
    url: &reqwest::Url,
    fetched: &Fetched,
    http_redirects: Option<bool>,
) -> Vec<Check> {
    let h = &fetched.headers;
    let https = url.scheme() == "https";
    let local_dev = !https && is_loopback(url);
    let mut checks = Vec::new();
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
    checks.push(check(
        "cookies",
        cookie_problems.is_empty(),
        cookie_deduction,
        if cookie_problems.is_empty() {
            "cookies are Secure, HttpOnly and SameSite (or none are set)".to_owned()
        } else {
            cookie_problems.join("; ")
        },
        "Set Secure, HttpOnly, SameSite=Lax; prefer the __Host- prefix",
    ));
    let lower_body = fetched.body.to_ascii_lowercase();
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
    checks.push(check(
        "sri",
        external_without_sri == 0,
        (external_without_sri * 5).min(15),
        format!("{external_without_sri} external scripts without integrity="),
        "Add integrity= (and crossorigin) to scripts from other hosts",
    ));
    checks
}

fn grade(score: u32) -> &'static str {
    match score {
        100.. => "A+",
        90..=99 => "A",
        80..=89 => "B",
        70..=79 => "C",
        60..=69 => "D",
        _ => "F",
    }
}

fn grade_rank(g: &str) -> usize {
    ["F", "D", "C", "B", "A", "A+"]
        .iter()
        .position(|x| x.eq_ignore_ascii_case(g))
        .unwrap_or(0)
}

pub(crate) async fn run(args: ScanArgs) -> Result<ExitCode, String> {
    if !["A+", "A", "B", "C", "D", "F"]
        .iter()
        .any(|g| g.eq_ignore_ascii_case(&args.fail_below))
    {
        return Err("--fail-below takes A+, A, B, C, D or F".into());
    }
    let client = client(&args)?;
    let fetched = fetch(&client, &args.url).await?;
    let final_url = reqwest::Url::parse(&fetched.chain.last().expect("one hop at least").0)
        .map_err(|e| e.to_string())?;
    // For an https:// target, does the plain-HTTP address redirect to it? (Only the
    // default port; a refused connection means no plain listener, which is fine.)
    let http_redirects = if final_url.scheme() == "https" && final_url.port().is_none() {
        let mut plain = final_url.clone();
        let _ = plain.set_scheme("http");
        match client.get(plain).send().await {
            Ok(r) => Some(
                r.status().is_redirection()
                    && header(r.headers(), "location").is_some_and(|l| l.starts_with("https://")),
            ),
            Err(_) => None,
        }
    } else if args.url.starts_with("http://") && final_url.scheme() == "https" {
        Some(true)
    } else {
        None
    };
    let checks = grade_headers(&final_url, &fetched, http_redirects);
    let score = 100u32.saturating_sub(checks.iter().map(|c| c.deduction).sum());
    let letter = grade(score);
    match args.format {
        Format::Text => {
            for (url, status) in &fetched.chain {
                println!("{status} {url}");
            }
            if fetched.truncated {
                println!("(body cut at {MAX_BODY} bytes)");
            }
            println!("score {score}/100, grade {letter}");
            for c in &checks {
                let mark = if c.passed {
                    "pass".to_owned()
                } else {
                    format!("-{}", c.deduction)
                };
                println!("{mark:>5}  {:<18} {}", c.id, c.message);
                if !c.passed {
                    println!("       fix: {}", c.fix);
                }
            }
        }
        Format::Json => {
            let list: Vec<_> = checks.iter().map(|c| json!({"id": c.id, "passed": c.passed, "deduction": c.deduction, "message": c.message, "fix": c.fix})).collect();
            println!(
                "{}",
                json!({"url": args.url, "final_url": final_url.as_str(), "score": score, "grade": letter, "checks": list})
            );
        }
        Format::Sarif => {
            let failed: Vec<_> = checks.iter().filter(|c| !c.passed).collect();
            println!(
                "{}",
                json!({
                    "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
                    "version": "2.1.0",
                    "runs": [{
                        "tool": {"driver": {"name": "palisade scan", "version": env!("CARGO_PKG_VERSION"),
                            "rules": failed.iter().map(|c| json!({"id": c.id, "shortDescription": {"text": c.message}, "help": {"text": c.fix}})).collect::<Vec<_>>()}},
                        "results": failed.iter().map(|c| json!({"ruleId": c.id, "level": if c.deduction >= 20 { "error" } else if c.deduction > 0 { "warning" } else { "note" },
                            "message": {"text": format!("{} (-{} points). Fix: {}", c.message, c.deduction, c.fix)},
                            "locations": [{"physicalLocation": {"artifactLocation": {"uri": final_url.as_str()}}}]})).collect::<Vec<_>>(),
                        "properties": {"score": score, "grade": letter},
                    }],
                })
            );
        }
    }
    Ok(if grade_rank(letter) < grade_rank(&args.fail_below) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
