//! The endpoint that receives CSP violation reports.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use http::{StatusCode, header};
use serde::Deserialize;
use serde_json::Value;

use crate::http::{ClientInfo, Problem};

/// One violation, normalised from either report format. Every field is browser-supplied,
/// untrusted text, cut to 512 characters: log it through
/// [`LogSafe`](crate::validate::LogSafe).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CspReport {
    /// The page that violated the policy.
    pub document_uri: String,
    /// What was blocked (a URL, `inline`, `eval`…).
    pub blocked_uri: String,
    /// The directive that was violated.
    pub effective_directive: String,
    /// `enforce` or `report`.
    pub disposition: String,
    /// Script file where it happened.
    pub source_file: String,
    /// Line in `source_file`.
    pub line: Option<u64>,
    /// Column in `source_file`.
    pub column: Option<u64>,
    /// The first characters of the offending code, when the policy asks for samples.
    pub sample: String,
}

/// Where accepted reports go. Called on the request's task: hand slow work (a database
/// write) to a channel or a spawned task.
pub trait CspReportSink: Send + Sync + 'static {
    /// Takes one report from `client`.
    fn accept(&self, report: CspReport, client: IpAddr);
}

/// Limits of the report endpoint.
#[derive(Debug, Clone, Copy)]
pub struct ReportLimits {
    /// Largest body accepted, in bytes (default 16 KiB).
    pub max_body_bytes: usize,
    /// Reports taken from one body (default 20); the rest are dropped.
    pub max_reports_per_body: usize,
    /// Requests per minute per client address (default 30).
    pub per_client_per_minute: NonZeroU32,
}

impl Default for ReportLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 16 * 1024,
            max_reports_per_body: 20,
            per_client_per_minute: NonZeroU32::new(30).expect("non-zero"),
        }
    }
}

struct Endpoint {
    sink: Arc<dyn CspReportSink>,
    limits: ReportLimits,
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

/// A router serving `POST path` for `application/csp-report` (CSP 2's `report-uri`) and
/// `application/reports+json` (the Reporting API's `report-to`). Answers 204 when reports
/// were taken; 413 for a body over the cap; 415 for another content type; 400 for a body
/// that is not a report; 429 with `Retry-After` past the per-client rate. The client is
/// [`ClientInfo`]'s address when the client-info layer runs, else the peer.
pub fn csp_report_router<S: Clone + Send + Sync + 'static>(
    path: &str,
    sink: Arc<dyn CspReportSink>,
    limits: ReportLimits,
) -> Router<S> {
    let endpoint = Arc::new(Endpoint {
        sink,
        limits,
        limiter: RateLimiter::keyed(Quota::per_minute(limits.per_client_per_minute)),
    });
    Router::new().route(path, post(receive).with_state(endpoint))
}

async fn receive(State(endpoint): State<Arc<Endpoint>>, request: Request) -> Response {
    let client = request
        .extensions()
        .get::<ClientInfo>()
        .map(|c| c.addr)
        .or_else(|| {
            request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
        });
    let Some(client) = client else {
        return crate::http::misconfigured("the CSP report endpoint needs the client address");
    };
    if endpoint.limiter.len() > 100_000 {
        endpoint.limiter.retain_recent();
    }
    if endpoint.limiter.check_key(&client).is_err() {
        return Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many reports",
        )
        .with_retry_after(60)
        .into_response();
    }
    let legacy = match report_format(&request) {
        Ok(legacy) => legacy,
        Err(refused) => return refused.into_response(),
    };
    let reports = match read_reports(&endpoint.limits, request, legacy).await {
        Ok(reports) => reports,
        Err(refused) => return refused.into_response(),
    };
    for report in reports {
        endpoint.sink.accept(report, client);
    }
    (StatusCode::NO_CONTENT, Body::empty()).into_response()
}

/// Whether the body is the legacy `application/csp-report` format (else the Reporting
/// API's); any other type is refused.
fn report_format(request: &Request) -> Result<bool, Problem> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    match content_type.as_str() {
        "application/csp-report" => Ok(true),
        "application/reports+json" => Ok(false),
        _ => Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported content type",
        )
        .with_detail("Send application/csp-report or application/reports+json.")
        .with_field("content-type")),
    }
}

/// The reports in the body, within the size and count limits.
async fn read_reports(
    limits: &ReportLimits,
    request: Request,
    legacy: bool,
) -> Result<Vec<CspReport>, Problem> {
    let declared_too_big = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|n| n > limits.max_body_bytes);
    let body = match declared_too_big {
        true => None,
        false => to_bytes(request.into_body(), limits.max_body_bytes)
            .await
            .ok(),
    };
    let Some(body) = body else {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "Report too large",
        )
        .with_detail(format!(
            "Reports are limited to {} bytes.",
            limits.max_body_bytes
        )));
    };
    match parse(&body, legacy, limits.max_reports_per_body) {
        Some(reports) if !reports.is_empty() => Ok(reports),
        _ => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-report",
            "Not a CSP report",
        )
        .with_detail("The body is not a CSP violation report in the declared format.")
        .with_field("body")),
    }
}

fn parse(body: &[u8], legacy: bool, max: usize) -> Option<Vec<CspReport>> {
    if legacy {
        #[derive(Deserialize)]
        struct Legacy {
            #[serde(rename = "csp-report")]
            report: serde_json::Map<String, Value>,
        }
        let legacy: Legacy = serde_json::from_slice(body).ok()?;
        let r = &legacy.report;
        return Some(vec![CspReport {
            document_uri: text(r, "document-uri"),
            blocked_uri: text(r, "blocked-uri"),
            effective_directive: match text(r, "effective-directive") {
                d if d.is_empty() => text(r, "violated-directive"),
                d => d,
            },
            disposition: text(r, "disposition"),
            source_file: text(r, "source-file"),
            line: r.get("line-number").and_then(Value::as_u64),
            column: r.get("column-number").and_then(Value::as_u64),
            sample: text(r, "script-sample"),
        }]);
    }
    let items: Vec<serde_json::Map<String, Value>> = serde_json::from_slice(body).ok()?;
    let reports = items
        .iter()
        .filter(|item| item.get("type").and_then(Value::as_str) == Some("csp-violation"))
        .filter_map(|item| item.get("body")?.as_object())
        .take(max)
        .map(|b| CspReport {
            document_uri: text(b, "documentURL"),
            blocked_uri: text(b, "blockedURL"),
            effective_directive: text(b, "effectiveDirective"),
            disposition: text(b, "disposition"),
            source_file: text(b, "sourceFile"),
            line: b.get("lineNumber").and_then(Value::as_u64),
            column: b.get("columnNumber").and_then(Value::as_u64),
            sample: text(b, "sample"),
        })
        .collect();
    Some(reports)
}

fn text(map: &serde_json::Map<String, Value>, key: &str) -> String {
    match map.get(key) {
        Some(Value::String(s)) => s.chars().take(512).collect(),
        _ => String::new(),
    }
}
