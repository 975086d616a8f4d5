//! Cross-site requests: posts refused, form tokens bound to their session, the one-origin
//! `form-action` widening, and the exact CSRF exemption.

use super::*;
use crate::secret::SecretBytes;
use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use http::{Request, StatusCode, header};

#[tokio::test]
async fn cross_site_posts_are_refused() {
    let refused: &[&[(&str, &str)]] = &[
        &[("origin", "https://evil.example"), ("cookie", "s=1")],
        &[("origin", "https://evil.example")],
        &[("origin", "null"), ("cookie", "s=1")],
        &[("sec-fetch-site", "cross-site"), ("cookie", "s=1")],
        &[
            ("sec-fetch-site", "same-site"),
            ("origin", "https://sub.example.com"),
            ("cookie", "s=1"),
        ],
        &[("cookie", "session=abc")],
        &[
            ("origin", "https://example.com.evil.example"),
            ("cookie", "s=1"),
        ],
    ];
    for headers in refused {
        let (status, h, body) = send(app(), request("POST", "/", CLIENT, headers, true)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{headers:?}");
        assert_eq!(h.get(header::CONTENT_TYPE).unwrap(), PROBLEM_JSON);
        assert!(body.contains("cross-site-request"));
    }
    let allowed: &[&[(&str, &str)]] = &[
        &[("origin", "https://example.com"), ("cookie", "s=1")],
        &[("origin", "https://EXAMPLE.com"), ("cookie", "s=1")],
        &[
            ("sec-fetch-site", "same-origin"),
            ("origin", "https://example.com"),
            ("cookie", "s=1"),
        ],
        &[("sec-fetch-site", "none"), ("cookie", "s=1")],
        &[("authorization", "Bearer abc")],
    ];
    for headers in allowed {
        let (status, _, body) = send(app(), request("POST", "/", CLIENT, headers, true)).await;
        assert_eq!(status, StatusCode::OK, "{headers:?}");
        assert_eq!(body, "posted");
    }
}

#[test]
fn form_tokens_are_bound_to_their_session() {
    let tokens = FormTokens::new(SecretBytes::new(vec![9; 32])).unwrap();
    let mine = tokens.token(b"session-a");
    assert!(tokens.verify(b"session-a", &mine));
    assert!(!tokens.verify(b"session-b", &mine));
    let other_key = FormTokens::new(SecretBytes::new(vec![8; 32])).unwrap();
    assert!(!other_key.verify(b"session-a", &mine));
    let mut tampered = mine.clone().into_bytes();
    tampered[0] = if tampered[0] == b'A' { b'B' } else { b'A' };
    assert!(!tokens.verify(b"session-a", std::str::from_utf8(&tampered).unwrap()));
    assert!(!tokens.verify(b"session-a", ""));
    assert!(FormTokens::new(SecretBytes::new(vec![1; 16])).is_err());
    assert_eq!(format!("{tokens:?}"), "FormTokens([redacted])");
}

/// A login page that sends the browser back to an app lists the app's origin in its own
/// `form-action` (a redirect after a form post is checked against it); no other response
/// does, and nothing but an exact origin is accepted.
#[tokio::test]
async fn a_response_may_widen_form_action_by_one_exact_origin() {
    let app = Router::new()
        .route(
            "/login",
            get(|| async {
                let mut r = "login".into_response();
                r.extensions_mut()
                    .insert(FormActionOrigin::new("https://app.example.com:8443").unwrap());
                r
            }),
        )
        .route("/", get(|| async { "home" }))
        .layer(Shield::new(
            ShieldConfig::new(SITE, PUBLIC_LISTENER.parse().unwrap()).unwrap(),
        ));
    let (_, h, _) = send(app.clone(), request("GET", "/login", CLIENT, &[], true)).await;
    let csp = h.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(
        csp.contains("form-action 'self' https://app.example.com:8443;"),
        "{csp}"
    );
    let (_, h, _) = send(app, request("GET", "/", CLIENT, &[], true)).await;
    let csp = h.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(csp.contains("form-action 'self';"), "{csp}");
    for bad in [
        "https://app.example.com/path",
        "https://*.example.com",
        "https://a.example.com; script-src *",
        "https://a.example.com 'unsafe-inline'",
        "javascript:alert(1)",
        "https://",
        "https://a.example.com:",
        "https://a.example.com:99999x",
        "app.example.com",
    ] {
        assert!(FormActionOrigin::new(bad).is_none(), "{bad}");
    }
}

/// A path prefix exempt from the cross-site check lets any method through to it, and only
/// to it; a prefix that is not a `/…/` path is refused at configuration.
#[test]
fn csrf_exemption_is_one_prefix_only() {
    let layer = CsrfLayer::new([SITE])
        .unwrap()
        .exempt("/api/v1/authz/ext-authz/")
        .unwrap();
    let post = |path: &str| {
        Request::builder()
            .method("POST")
            .uri(path)
            .header(header::COOKIE, "s=1")
            .body(())
            .unwrap()
    };
    assert!(layer.allows(&post("/api/v1/authz/ext-authz/form")));
    assert!(!layer.allows(&post("/api/v1/authz/ext-authz")));
    assert!(!layer.allows(&post("/api/v1/tokens")));
    for bad in ["", "/", "api/", "/api"] {
        assert!(
            CsrfLayer::new([SITE]).unwrap().exempt(bad).is_err(),
            "{bad}"
        );
    }
}
