//! The CSP report endpoint: both report formats parsed; oversized, malformed and flooding
//! reports answered 4xx and kept out.

use super::csp::{CspReport, CspReportSink, ReportLimits, csp_report_router};
use super::*;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{Request, StatusCode, header};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Collect(Mutex<Vec<CspReport>>);

impl CspReportSink for Collect {
    fn accept(&self, report: CspReport, _client: std::net::IpAddr) {
        self.0.lock().unwrap().push(report);
    }
}

fn report_app(sink: Arc<Collect>, per_minute: u32) -> Router {
    let limits = ReportLimits {
        per_client_per_minute: std::num::NonZeroU32::new(per_minute).unwrap(),
        ..ReportLimits::default()
    };
    csp_report_router("/csp-report", sink, limits).layer(Shield::new(
        ShieldConfig::new(SITE, PUBLIC_LISTENER.parse().unwrap()).unwrap(),
    ))
}

fn report(content_type: &str, body: impl Into<Body>) -> Request<Body> {
    let mut req = Request::builder()
        .method("POST")
        .uri("/csp-report")
        .header("content-type", content_type)
        .body(body.into())
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(CLIENT.parse::<SocketAddr>().unwrap()));
    req.extensions_mut().insert(ConnectionScheme::Https);
    req
}

#[tokio::test]
async fn csp_reports_are_parsed_in_both_formats() {
    let sink = Arc::new(Collect::default());
    let legacy = r#"{"csp-report":{"document-uri":"https://example.com/a","blocked-uri":"inline","violated-directive":"script-src-elem","line-number":3}}"#;
    let (status, _, _) = send(
        report_app(sink.clone(), 30),
        report("application/csp-report", legacy),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let modern = r#"[{"type":"csp-violation","age":1,"url":"https://example.com/b","body":{"documentURL":"https://example.com/b","blockedURL":"https://evil.example/x.js","effectiveDirective":"script-src-elem","disposition":"enforce"}},{"type":"deprecation","body":{}}]"#;
    let (status, _, _) = send(
        report_app(sink.clone(), 30),
        report("application/reports+json", modern),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let got = sink.0.lock().unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].blocked_uri, "inline");
    assert_eq!(got[0].effective_directive, "script-src-elem");
    assert_eq!(got[0].line, Some(3));
    assert_eq!(got[1].blocked_uri, "https://evil.example/x.js");
}

#[tokio::test]
async fn oversized_malformed_or_flooding_reports_get_4xx_and_nothing_else() {
    let sink = Arc::new(Collect::default());
    let huge = format!(
        r#"{{"csp-report":{{"document-uri":"{}"}}}}"#,
        "a".repeat(20_000)
    );
    let cases: Vec<(Request<Body>, StatusCode)> = vec![
        (
            report("application/csp-report", huge),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            report("application/csp-report", "{not json"),
            StatusCode::BAD_REQUEST,
        ),
        (
            report("application/csp-report", r#"{"other":1}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            report(
                "application/reports+json",
                r#"[{"type":"deprecation","body":{}}]"#,
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            report("text/plain", "{}"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
    ];
    for (req, expected) in cases {
        let (status, h, body) = send(report_app(sink.clone(), 30), req).await;
        assert_eq!(status, expected);
        assert_eq!(h.get(header::CONTENT_TYPE).unwrap(), PROBLEM_JSON);
        assert!(!body.contains("aaaa"), "the input is never echoed");
    }
    assert!(sink.0.lock().unwrap().is_empty());
    // Rate limit: the same client gets 429 with Retry-After once over its quota.
    let app = report_app(sink.clone(), 3);
    let ok = r#"{"csp-report":{"blocked-uri":"inline"}}"#;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let (status, h, _) = send(app.clone(), report("application/csp-report", ok)).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert!(h.contains_key(header::RETRY_AFTER));
        }
        statuses.push(status);
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::NO_CONTENT)
            .count(),
        3
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count(),
        2
    );
    assert_eq!(sink.0.lock().unwrap().len(), 3);
}
