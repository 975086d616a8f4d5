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
use palisade::site_grade::{Check, Page, grade_page, letter, letter_rank, score};
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
    let http_redirects = http_redirects(&client, &args.url, &final_url).await;
    let checks = grade_page(&Page {
        https: final_url.scheme() == "https",
        loopback: is_loopback(&final_url),
        headers: &fetched.headers,
        body: &fetched.body,
        http_redirects,
    });
    let letter = letter(score(&checks));
    print_report(&args, &fetched, &final_url, &checks);
    Ok(if letter_rank(letter) < letter_rank(&args.fail_below) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// For an https:// target, whether the plain-HTTP address redirects to it (only on the
/// default port; a refused connection means no plain listener, which is fine).
async fn http_redirects(
    client: &reqwest::Client,
    asked: &str,
    final_url: &reqwest::Url,
) -> Option<bool> {
    if final_url.scheme() == "https" && final_url.port().is_none() {
        let mut plain = final_url.clone();
        let _ = plain.set_scheme("http");
        match client.get(plain).send().await {
            Ok(r) => Some(
                r.status().is_redirection()
                    && r.headers()
                        .get(http::header::LOCATION)
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|l| l.starts_with("https://")),
            ),
            Err(_) => None,
        }
    } else if asked.starts_with("http://") && final_url.scheme() == "https" {
        Some(true)
    } else {
        None
    }
}

fn print_report(args: &ScanArgs, fetched: &Fetched, final_url: &reqwest::Url, checks: &[Check]) {
    let score = score(checks);
    let letter = letter(score);
    match args.format {
        Format::Text => {
            for (url, status) in &fetched.chain {
                println!("{status} {url}");
            }
            if fetched.truncated {
                println!("(body cut at {MAX_BODY} bytes)");
            }
            println!("score {score}/100, grade {letter}");
            for c in checks {
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
}
