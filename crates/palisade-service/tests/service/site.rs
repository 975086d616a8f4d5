//! The site's face: the stylesheet and logo under hashed names (kept a year, anything else
//! 404), the operator's accent colour in the stylesheet, and a logo that cannot serve is
//! refused at start with its reason.

use http::StatusCode;

use crate::support::{TestApp, req, test_config};

const CLIENT: &str = "127.0.0.1:7";

/// The `href` of the page's stylesheet, and the `src` of its logo.
fn assets_of(page: &str) -> (String, Option<String>) {
    let attr = |after: &str, name: &str| {
        page.split(after)
            .nth(1)
            .and_then(|rest| rest.split(&format!("{name}=\"")).nth(1))
            .map(|rest| rest.split('"').next().unwrap().to_owned())
    };
    (
        attr("rel=\"stylesheet\"", "href").expect("a stylesheet"),
        attr("class=\"brand\"", "src").filter(|src| src.starts_with("/assets/logo.")),
    )
}

#[tokio::test]
async fn branding_is_served_under_hashed_names_and_nothing_else_is() {
    let dir = tempfile::tempdir().unwrap();
    let logo = dir.path().join("logo.svg");
    std::fs::write(&logo, "<svg xmlns=\"http://www.w3.org/2000/svg\"/>").unwrap();
    let mut config = test_config(dir.path(), None);
    config.site_name = "Quillmarsh <Lending>".into();
    config.accent_colour = Some("#0b7a55".into());
    config.logo_file = Some(logo);
    let app = TestApp::with_config(config, dir).await;
    let page = app.send(req("GET", "/login", None, None, CLIENT)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Quillmarsh &#60;Lending&#62;")
            || page.body.contains("Quillmarsh &lt;Lending&gt;"),
        "the name, escaped"
    );
    let (stylesheet, logo) = assets_of(&page.body);
    assert!(
        stylesheet.starts_with("/assets/style.") && stylesheet.ends_with(".css"),
        "{stylesheet}"
    );
    let logo = logo.expect("the logo is shown");
    let css = app.send(req("GET", &stylesheet, None, None, CLIENT)).await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.headers["content-type"], "text/css; charset=utf-8");
    assert!(
        css.headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert!(
        css.body
            .contains("--accent: #0b7a55; --on-accent: #ffffff;"),
        "the accent colour"
    );
    let svg = app.send(req("GET", &logo, None, None, CLIENT)).await;
    assert_eq!(svg.status, StatusCode::OK);
    assert_eq!(svg.headers["content-type"], "image/svg+xml");
    // The policy the pages carry lets them load both (same origin, no inline style).
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("style-src 'self'") && csp.contains("img-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    for other in [
        "/assets/style.css",
        "/assets/../Cargo.toml",
        "/assets/logo.svg",
        "/assets/style.0000000000000000.css",
        &stylesheet.to_uppercase(),
    ] {
        let reply = app.send(req("GET", other, None, None, CLIENT)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{other}");
    }
}

#[tokio::test]
async fn a_logo_that_cannot_serve_stops_the_start_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "logo.gif",
            vec![b'G'; 10],
            "must be an .svg, .png or .webp file",
        ),
        (
            "big.png",
            vec![0u8; 256 * 1024 + 1],
            "a logo may be at most 262144",
        ),
        ("missing.svg", Vec::new(), "No such file or directory"),
    ];
    for (name, bytes, reason) in cases {
        let path = dir.path().join(name);
        if !bytes.is_empty() {
            std::fs::write(&path, bytes).unwrap();
        }
        let mut config = test_config(dir.path(), None);
        config.logo_file = Some(path);
        let problem = match palisade_service::build(&config).await {
            Ok(_) => panic!("{name} was accepted"),
            Err(problem) => problem,
        };
        assert!(
            problem.contains("logo_file") && problem.contains(reason),
            "{name}: {problem}"
        );
    }
}
