//! The attacks each layer stops, driven through `oneshot` without sockets.

mod cross_site;
mod csp_reports;

use std::net::SocketAddr;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, Request, StatusCode, header};
use tower::ServiceExt;

use super::*;

const SITE: &str = "https://example.com";
const PUBLIC_LISTENER: &str = "0.0.0.0:8443";
const CLIENT: &str = "198.51.100.20:50000";

async fn echo(info: ClientInfo, nonce: CspNonce) -> Response {
    let body = format!(
        "addr={} https={} <script nonce=\"{}\"></script>",
        info.addr, info.https, nonce
    );
    body.into_response()
}

fn app_with(config: ShieldConfig) -> Router {
    Router::new()
        .route("/", get(echo).post(|| async { "posted" }))
        .route(
            "/api/v1/thing",
            get(|| async { "api" }).post(|| async { "api" }),
        )
        .route(
            "/private",
            get(|| async {
                let mut r = "secret".into_response();
                r.extensions_mut().insert(Sensitive);
                r
            }),
        )
        .route(
            "/framed",
            get(|| async { ([("x-frame-options", "SAMEORIGIN")], "frame me").into_response() }),
        )
        .route(
            "/banner",
            get(|| async {
                ([("server", "nginx/1.0"), ("x-powered-by", "PHP/5")], "x").into_response()
            }),
        )
        .layer(Shield::new(config))
}

fn app() -> Router {
    app_with(ShieldConfig::new(SITE, PUBLIC_LISTENER.parse().unwrap()).unwrap())
}

fn request(
    method: &str,
    uri: &str,
    peer: &str,
    headers: &[(&str, &str)],
    https: bool,
) -> Request<Body> {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut req = req.body(Body::empty()).unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
    if https {
        req.extensions_mut().insert(ConnectionScheme::Https);
    }
    req
}

async fn send(app: Router, req: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let response = app.oneshot(req).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = String::from_utf8(to_bytes(body, 1 << 20).await.unwrap().to_vec()).unwrap();
    (parts.status, parts.headers, body)
}

#[tokio::test]
async fn spoofed_forwarded_headers_from_an_untrusted_peer_change_nothing() {
    let spoof = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-for", "10.9.9.9"),
        ("forwarded", "for=10.9.9.9;proto=https"),
    ];
    let (status, headers, _) = send(app(), request("GET", "/", CLIENT, &spoof, false)).await;
    // Still plain HTTP: redirected, not served, and no HSTS.
    assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
    assert!(!headers.contains_key(header::STRICT_TRANSPORT_SECURITY));
    // Over HTTPS the address the handler sees is the peer, not the spoofed one.
    let (status, _, body) = send(app(), request("GET", "/", CLIENT, &spoof, true)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.starts_with("addr=198.51.100.20 https=true"), "{body}");
}

#[tokio::test]
async fn a_trusted_proxy_is_believed() {
    let mut config = ShieldConfig::new(SITE, PUBLIC_LISTENER.parse().unwrap()).unwrap();
    config.proxies = TrustedProxies::parse(["10.0.0.0/8"]).unwrap();
    let headers = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-for", "1.1.1.1, 198.51.100.77"),
    ];
    let (status, _, body) = send(
        app_with(config),
        request("GET", "/", "10.0.0.2:1234", &headers, false),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.starts_with("addr=198.51.100.77 https=true"), "{body}");
}

#[tokio::test]
async fn a_hostile_host_never_reaches_location() {
    let headers = [
        ("host", "evil.example"),
        ("x-forwarded-host", "evil.example"),
    ];
    let (status, h, _) = send(
        app(),
        request(
            "GET",
            "http://evil.example/account?next=%2F",
            CLIENT,
            &headers,
            false,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
    let location = h.get(header::LOCATION).unwrap().to_str().unwrap();
    assert_eq!(location, "https://example.com/account?next=%2F");
    assert!(!location.contains("evil"));
    // Protocol-relative path tricks stay on the canonical host.
    let (_, h, _) = send(
        app(),
        request("GET", "//evil.example/x", CLIENT, &[], false),
    )
    .await;
    let location = h.get(header::LOCATION).unwrap().to_str().unwrap();
    assert!(location.starts_with("https://example.com/"), "{location}");
}

#[tokio::test]
async fn plain_http_api_calls_and_posts_are_refused_not_redirected() {
    for (method, uri) in [
        ("GET", "/api/v1/thing"),
        ("POST", "/api/v1/thing"),
        ("POST", "/"),
        ("DELETE", "/"),
    ] {
        let (status, h, body) = send(
            app(),
            request(method, uri, CLIENT, &[("origin", SITE)], false),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {uri}");
        assert!(!h.contains_key(header::LOCATION));
        assert_eq!(h.get(header::CONTENT_TYPE).unwrap(), PROBLEM_JSON);
        assert!(body.contains("https-required"));
    }
}

#[tokio::test]
async fn loopback_development_works_only_on_a_loopback_listener() {
    let dev =
        ShieldConfig::new("http://127.0.0.1:8080", "127.0.0.1:8080".parse().unwrap()).unwrap();
    let (status, h, _) = send(
        app_with(dev),
        request("GET", "/", "127.0.0.1:5555", &[], false),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!h.contains_key(header::STRICT_TRANSPORT_SECURITY));
    let csp = h.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(!csp.contains("upgrade-insecure-requests"));
    // A public listener does not let loopback (or anyone) in over plain HTTP.
    let (status, _, _) = send(app(), request("GET", "/", "127.0.0.1:5555", &[], false)).await;
    assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
    // A remote client of a loopback listener (via a port forward) is not loopback.
    let dev =
        ShieldConfig::new("http://127.0.0.1:8080", "127.0.0.1:8080".parse().unwrap()).unwrap();
    let (status, _, _) = send(app_with(dev), request("GET", "/", CLIENT, &[], false)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn security_headers_and_overrides() {
    let (status, h, _) = send(app(), request("GET", "/", CLIENT, &[], true)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        h.get(header::STRICT_TRANSPORT_SECURITY).unwrap(),
        "max-age=31536000; includeSubDomains"
    );
    assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
    assert_eq!(h.get("x-frame-options").unwrap(), "DENY");
    assert_eq!(h.get("referrer-policy").unwrap(), "no-referrer");
    assert_eq!(h.get("cross-origin-opener-policy").unwrap(), "same-origin");
    assert_eq!(
        h.get("cross-origin-resource-policy").unwrap(),
        "same-origin"
    );
    let permissions = h.get("permissions-policy").unwrap().to_str().unwrap();
    for denied in [
        "camera=()",
        "publickey-credentials-create=()",
        "publickey-credentials-get=()",
    ] {
        assert!(permissions.contains(denied), "{denied} in {permissions}");
    }
    assert!(!h.contains_key(header::CACHE_CONTROL));
    // The WebAuthn pages' variant: the same list, with only those two opened to `self`.
    let webauthn = super::permissions_policy_allowing_webauthn();
    let webauthn = webauthn.to_str().unwrap();
    assert!(
        webauthn.contains("publickey-credentials-create=(self)"),
        "{webauthn}"
    );
    assert!(
        webauthn.contains("publickey-credentials-get=(self)"),
        "{webauthn}"
    );
    assert_eq!(
        webauthn.replace("=(self)", "=()"),
        permissions,
        "nothing else differs"
    );
    let (_, h, _) = send(app(), request("GET", "/private", CLIENT, &[], true)).await;
    assert_eq!(h.get(header::CACHE_CONTROL).unwrap(), "no-store");
    let (_, h, _) = send(app(), request("GET", "/framed", CLIENT, &[], true)).await;
    assert_eq!(h.get("x-frame-options").unwrap(), "SAMEORIGIN");
    let (_, h, _) = send(app(), request("GET", "/banner", CLIENT, &[], true)).await;
    assert!(!h.contains_key(header::SERVER) && !h.contains_key("x-powered-by"));
}

#[test]
fn configuration_cannot_inject_headers() {
    assert!(
        SecurityHeadersLayer::new()
            .with_header("x-test", "ok\r\nSet-Cookie: a=b")
            .is_err()
    );
    assert!(
        SecurityHeadersLayer::new()
            .with_header("x-test", "nul\0")
            .is_err()
    );
    assert!(
        SecurityHeadersLayer::new()
            .with_header("bad name", "v")
            .is_err()
    );
    assert!(
        SecurityHeadersLayer::new()
            .with_header("x-test", "fine")
            .is_ok()
    );
    assert!(
        SecurityHeadersLayer::new()
            .with_hsts(86_400, true, false)
            .is_err()
    );
    assert!(
        SecurityHeadersLayer::new()
            .with_hsts(63_072_000, false, true)
            .is_err()
    );
    assert!(
        HttpsPolicy::new()
            .with_canonical_origin("http://example.com")
            .is_err()
    );
    assert!(
        HttpsPolicy::new()
            .with_canonical_origin("https://example.com/path")
            .is_err()
    );
    assert!(
        HttpsPolicy::new()
            .with_canonical_origin("https://example.com\r\nX: y")
            .is_err()
    );
    assert!(CsrfLayer::new(["example.com"]).is_err());
}

#[tokio::test]
async fn every_response_gets_a_fresh_nonce_matching_its_page() {
    let mut seen = std::collections::HashSet::new();
    for _ in 0..50 {
        let (_, h, body) = send(app(), request("GET", "/", CLIENT, &[], true)).await;
        let csp = h
            .get("content-security-policy")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .unwrap()
            .split('\'')
            .next()
            .unwrap()
            .to_owned();
        assert!(
            nonce.len() >= 22,
            "128 bits need at least 22 base64 characters"
        );
        assert!(
            body.contains(&format!("nonce=\"{nonce}\"")),
            "the page's nonce is the header's"
        );
        assert!(csp.contains("default-src 'none'") && !csp.contains("unsafe"));
        assert!(seen.insert(nonce), "a nonce was reused");
    }
}

#[tokio::test]
async fn report_only_mode_uses_the_report_only_header() {
    let mut config = ShieldConfig::new(SITE, PUBLIC_LISTENER.parse().unwrap()).unwrap();
    config.csp = CspLayer::new(CspPolicy::strict().report_only(true))
        .with_report_endpoint("/csp-report")
        .unwrap();
    let (_, h, _) = send(app_with(config), request("GET", "/", CLIENT, &[], true)).await;
    assert!(!h.contains_key("content-security-policy"));
    assert!(
        h.get("content-security-policy-report-only")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("report-to csp-endpoint")
    );
    assert_eq!(
        h.get("reporting-endpoints").unwrap(),
        "csp-endpoint=\"/csp-report\""
    );
    assert!(
        CspLayer::new(CspPolicy::empty())
            .with_report_endpoint("/r")
            .is_err()
    );
    assert!(CspLayer::default().with_report_endpoint("/r\"x").is_err());
}

#[tokio::test]
async fn missing_connect_info_fails_closed() {
    let mut req = request("GET", "/", CLIENT, &[], true);
    req.extensions_mut().remove::<ConnectInfo<SocketAddr>>();
    let (status, _, body) = send(app(), req).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("server-misconfigured"));
}

#[tokio::test]
async fn the_redirect_only_listener_serves_nothing() {
    let app = redirect_only(SITE).unwrap();
    let (status, h, _) = send(
        app.clone(),
        request(
            "GET",
            "/login?x=1",
            "127.0.0.1:9",
            &[("host", "evil.example")],
            false,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        h.get(header::LOCATION).unwrap(),
        "https://example.com/login?x=1"
    );
    let (status, _, _) = send(app, request("POST", "/login", "127.0.0.1:9", &[], false)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
