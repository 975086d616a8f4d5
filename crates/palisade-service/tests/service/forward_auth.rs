//! Forward-auth endpoints, driven as a proxy drives them: who may ask, what a described
//! request gets (allowed with the user named, sent to log in, denied), and the attacks on
//! the description itself (spoofing from elsewhere, traversal out of a bypassed path).

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{Request, StatusCode, header};
use palisade_service::admin::Admin;
use palisade_service::{AccessControl, OneOrMany, RuleConfig};

use super::support::*;
use super::test_database::TestDatabase as PgDb;

const PROXY: &str = "127.0.0.1:50000";

fn rule(resources: &[&str], subject: &[&str], policy: &str) -> RuleConfig {
    RuleConfig {
        domain: OneOrMany::One("app.example.com".into()),
        resources: resources.iter().map(|r| r.to_string()).collect(),
        methods: Vec::new(),
        networks: Vec::new(),
        query: Vec::new(),
        subject: OneOrMany::Many(subject.iter().map(|s| s.to_string()).collect()),
        policy: policy.into(),
    }
}

async fn protecting_app(database_url: Option<String>) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), database_url);
    config.trusted_proxies = vec!["127.0.0.1".into()];
    config.access_control = AccessControl {
        rules: vec![
            rule(&["/public/.*"], &[], "bypass"),
            rule(&["/admin(/.*)?"], &["group:admins"], "authenticated"),
            rule(&["/admin(/.*)?"], &[], "deny"),
            rule(&[], &[], "authenticated"),
        ],
        ..AccessControl::default()
    };
    TestApp::with_config(config, dir).await
}

/// Asks forward-auth about `headers` until the answer is `status`, failing after a second.
async fn first_within_a_second(
    app: &TestApp,
    headers: &[(&str, &str)],
    status: StatusCode,
) -> Reply {
    let start = std::time::Instant::now();
    loop {
        let reply = app.send(ask("forward-auth", PROXY, headers)).await;
        if reply.status == status {
            return reply;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(1),
            "still {} after a second, expected {status}",
            reply.status
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A question to `endpoint` from `peer`, with the given headers.
fn ask(endpoint: &str, peer: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::builder().uri(format!("/api/v1/authz/{endpoint}"));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut request = builder.body(Body::empty()).unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
    // Over TLS, so that the shield's own refusal of APIs over plain HTTP stays out of the way.
    request
        .extensions_mut()
        .insert(palisade::http::ConnectionScheme::Https);
    request
}

/// Traefik's description of `method url`, plus `extra` headers.
fn forwarded<'a>(
    method: &'a str,
    uri: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut headers = vec![
        ("x-forwarded-method", method),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "app.example.com"),
        ("x-forwarded-uri", uri),
        ("x-forwarded-for", "198.51.100.7"),
    ];
    headers.extend_from_slice(extra);
    headers
}

const BROWSER: (&str, &str) = ("accept", "text/html,application/xhtml+xml,*/*;q=0.8");
const SCRIPT: (&str, &str) = ("accept", "application/json");

fn header<'r>(reply: &'r Reply, name: &str) -> Option<&'r str> {
    reply.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The whole flow on one database: log in first, allowed with the user named, denied by
/// group, allowed once in the group, sent back to log in after logout.
async fn flow(app: &TestApp) {
    let page = forwarded("GET", "/page?x=1", &[BROWSER]);
    let reply = app.send(ask("forward-auth", PROXY, &page)).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
    assert_eq!(
        header(&reply, "location"),
        Some(&*format!(
            "{ORIGIN}/login?rd=https%3A%2F%2Fapp.example.com%2Fpage%3Fx%3D1"
        ))
    );
    assert_eq!(header(&reply, "cache-control"), Some("no-store"));
    assert!(header(&reply, "remote-user").is_none());
    // A form posted to the app: 303, so the browser comes back with GET.
    let post = forwarded("POST", "/page", &[BROWSER]);
    assert_eq!(
        app.send(ask("forward-auth", PROXY, &post)).await.status,
        StatusCode::SEE_OTHER
    );
    // Scripts and APIs get a 401 they can handle, never a login page.
    for extra in [SCRIPT, ("x-requested-with", "XMLHttpRequest")] {
        let api = forwarded("GET", "/api/items", &[BROWSER, extra]);
        let headers: Vec<_> = if extra == SCRIPT {
            forwarded("GET", "/api/items", &[extra])
        } else {
            api
        };
        let reply = app.send(ask("forward-auth", PROXY, &headers)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{extra:?}");
        assert!(header(&reply, "www-authenticate").is_some());
        assert!(header(&reply, "location").is_none());
    }
    // nginx passes on only 401: the redirect is in Location.
    let nginx = [
        ("x-original-method", "GET"),
        ("x-original-url", "https://app.example.com/page"),
        BROWSER,
    ];
    let reply = app.send(ask("auth-request", PROXY, &nginx)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&reply, "location"),
        Some(&*format!(
            "{ORIGIN}/login?rd=https%3A%2F%2Fapp.example.com%2Fpage"
        ))
    );
    // The bypassed path needs nobody.
    let public = forwarded("GET", "/public/app.css", &[BROWSER]);
    assert_eq!(
        app.send(ask("forward-auth", PROXY, &public)).await.status,
        StatusCode::OK
    );

    assert_eq!(
        app.register("erin", "erin@example.com", STRONG)
            .await
            .status,
        StatusCode::CREATED
    );
    let token = app.login("erin", STRONG).await;
    let bearer = format!("Bearer {token}");
    let signed_in = forwarded(
        "GET",
        "/page",
        &[
            BROWSER,
            ("authorization", &bearer),
            ("remote-user", "admin"),
        ],
    );
    let reply = app.send(ask("forward-auth", PROXY, &signed_in)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        header(&reply, "remote-user"),
        Some("erin"),
        "never the client's own Remote-User"
    );
    assert_eq!(header(&reply, "remote-email"), Some("erin@example.com"));
    assert_eq!(header(&reply, "remote-name"), Some("erin"));
    assert_eq!(header(&reply, "remote-groups"), Some(""));
    let nginx_signed_in = [
        ("x-original-method", "GET"),
        ("x-original-url", "https://app.example.com/page"),
        ("authorization", &bearer),
    ];
    let reply = app.send(ask("auth-request", PROXY, &nginx_signed_in)).await;
    assert_eq!(header(&reply, "remote-user"), Some("erin"));

    // A script's API token is as good as the session here.
    let created = app
        .json(
            "POST",
            "/api/v1/tokens",
            Some(serde_json::json!({"name": "ci"})),
            Some(&token),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let script = format!("Bearer {}", created.json()["token"].as_str().unwrap());
    let reply = app
        .send(ask(
            "forward-auth",
            PROXY,
            &forwarded("GET", "/api/items", &[SCRIPT, ("authorization", &script)]),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(header(&reply, "remote-user"), Some("erin"));
    let admin_page = forwarded(
        "GET",
        "/admin/users",
        &[BROWSER, ("authorization", &bearer)],
    );
    let reply = app.send(ask("forward-auth", PROXY, &admin_page)).await;
    assert_eq!(
        reply.status,
        StatusCode::FORBIDDEN,
        "not in admins: the deny rule"
    );
    // The admin CLI is another process: its changes reach this instance's remembered
    // groups within a second (the same window as its revocations), never later.
    let admin = Admin::open(&app.config).await.unwrap();
    assert!(admin.group_add("erin", "admins").await.unwrap());
    let reply = first_within_a_second(app, &admin_page, StatusCode::OK).await;
    assert_eq!(header(&reply, "remote-groups"), Some("admins"));
    assert!(admin.group_remove("erin", "admins").await.unwrap());
    first_within_a_second(app, &admin_page, StatusCode::FORBIDDEN).await;

    // Logging out once logs out of every app behind the proxy.
    let out = app.json("POST", "/api/v1/logout", None, Some(&token)).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let reply = app.send(ask("forward-auth", PROXY, &signed_in)).await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert!(header(&reply, "remote-user").is_none());
}

#[tokio::test]
async fn forward_auth_flow_on_sqlite() {
    flow(&protecting_app(None).await).await;
}

#[tokio::test]
async fn forward_auth_flow_on_postgres() {
    let Some(db) = PgDb::create("forward-auth on PostgreSQL").await else {
        return;
    };
    let app = protecting_app(Some(db.url.clone())).await;
    flow(&app).await;
    drop(app);
    db.drop_db().await;
}

/// Only a trusted proxy may describe a request: from anywhere else, even a complete and
/// valid description with a live session is refused, so a client cannot ask about (or
/// learn the user behind) any URL it likes.
#[tokio::test]
async fn only_a_trusted_proxy_may_ask() {
    let app = protecting_app(None).await;
    app.register("frank", "frank@example.com", STRONG).await;
    let token = app.login("frank", STRONG).await;
    let bearer = format!("Bearer {token}");
    let spoofed = forwarded("GET", "/page", &[("authorization", &bearer)]);
    for peer in ["127.0.0.2:50000", "192.0.2.1:50000", "[::1]:50000"] {
        for (endpoint, headers) in [
            ("forward-auth", spoofed.clone()),
            (
                "auth-request",
                vec![
                    ("x-original-method", "GET"),
                    ("x-original-url", "https://app.example.com/page"),
                    ("authorization", &bearer),
                ],
            ),
        ] {
            let reply = app.send(ask(endpoint, peer, &headers)).await;
            assert_eq!(
                reply.status,
                StatusCode::FORBIDDEN,
                "{endpoint} from {peer}"
            );
            assert!(header(&reply, "remote-user").is_none());
            assert_eq!(
                reply.json()["type"],
                "urn:palisade:problem:untrusted-proxy",
                "{}",
                reply.body
            );
        }
    }
    // The same question from the proxy is answered.
    assert_eq!(
        app.send(ask("forward-auth", PROXY, &spoofed)).await.status,
        StatusCode::OK
    );
}

/// A description that is missing a part, repeats one, or is malformed is refused, never
/// treated as allowed (oauth2-proxy GHSA-7x63-xv5r-3p2x, Authelia CVE-2021-32637).
#[tokio::test]
async fn an_incomplete_or_malformed_description_is_refused() {
    let app = protecting_app(None).await;
    let full = forwarded("GET", "/public/a.css", &[]);
    assert_eq!(
        app.send(ask("forward-auth", PROXY, &full)).await.status,
        StatusCode::OK
    );
    for missing in [
        "x-forwarded-method",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-forwarded-uri",
    ] {
        let headers: Vec<_> = full
            .iter()
            .filter(|(n, _)| *n != missing)
            .copied()
            .collect();
        let reply = app.send(ask("forward-auth", PROXY, &headers)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "without {missing}");
        assert!(
            reply.json()["detail"]
                .as_str()
                .unwrap()
                .starts_with(missing),
            "{}",
            reply.body
        );
        let mut twice = full.clone();
        twice.push((missing, full.iter().find(|(n, _)| *n == missing).unwrap().1));
        let reply = app.send(ask("forward-auth", PROXY, &twice)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{missing} twice");
    }
    for (name, value) in [
        ("x-forwarded-uri", "public/a.css"),
        ("x-forwarded-uri", "/public/..%2fadmin"),
        ("x-forwarded-uri", "/public/..;/admin"),
        ("x-forwarded-proto", "gopher"),
        ("x-forwarded-host", "app.example.com@evil.net"),
        ("x-forwarded-method", "get"),
    ] {
        let headers: Vec<_> = full
            .iter()
            .map(|&(n, v)| if n == name { (n, value) } else { (n, v) })
            .collect();
        let reply = app.send(ask("forward-auth", PROXY, &headers)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{name}: {value}");
        // A scheme other than https is the shield's to refuse first (an API over HTTP).
        let expected = if name == "x-forwarded-proto" {
            "urn:palisade:problem:https-required"
        } else {
            "urn:palisade:problem:malformed-original-request"
        };
        assert_eq!(reply.json()["type"], expected, "{name}: {value}");
    }
    for url in [
        "/public/a.css",
        "https://app.example.com@evil.net/",
        "javascript:alert(1)",
    ] {
        let headers = [("x-original-method", "GET"), ("x-original-url", url)];
        let reply = app.send(ask("auth-request", PROXY, &headers)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{url}");
    }
}

/// What a lax app could make of a path: escapes decoded until nothing changes, `\` read
/// as `/`, dot segments resolved.
fn laxest_reading(path: &str) -> String {
    let mut text = path.to_owned();
    loop {
        let decoded: String = percent_decode(&text);
        if decoded == text {
            break;
        }
        text = decoded;
    }
    let mut segments: Vec<&str> = Vec::new();
    let text = text.replace('\\', "/");
    for segment in text.split('/') {
        match segment.split(';').next().unwrap_or("") {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            _ => segments.push(segment),
        }
    }
    format!("/{}", segments.join("/"))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
        match (bytes[i], hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every path-traversal payload of the corpus, appended to the bypassed `/public/`: none
/// is let through unless even the laxest reading of it stays under `/public/`.
#[tokio::test]
async fn traversal_out_of_a_bypassed_path_is_never_let_through() {
    let Some(dir) = super::attacks::payload_dir() else {
        return;
    };
    let app = protecting_app(None).await;
    let traversal = dir.join("payloadsallthethings/path-traversal");
    let (mut tried, mut through) = (0, 0);
    for file in std::fs::read_dir(&traversal).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        for payload in String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|l| !l.is_empty())
        {
            let uri = format!("/public/{payload}");
            if http::HeaderValue::from_str(&uri).is_err() {
                continue; // Not sendable in a header at all.
            }
            tried += 1;
            let reply = app
                .send(ask(
                    "forward-auth",
                    PROXY,
                    &forwarded("GET", &uri, &[BROWSER]),
                ))
                .await;
            assert!(
                [StatusCode::OK, StatusCode::FOUND, StatusCode::FORBIDDEN].contains(&reply.status),
                "{uri}: {}",
                reply.status
            );
            if reply.status == StatusCode::OK {
                through += 1;
                let path = uri.split('?').next().unwrap();
                let read = laxest_reading(path);
                assert!(
                    read.starts_with("/public/"),
                    "{uri} let through, read as {read}"
                );
            }
        }
    }
    eprintln!("{tried} traversal payloads under /public/: {through} let through, all inside it");
    assert!(tried > 1_000, "only {tried} payloads tried");
}

const ACCOUNTS: &str = "https://accounts.whitelisteddomain.tld";

/// Accounts at `accounts.whitelisteddomain.tld`, the session also issued for every app under
/// `whitelisteddomain.tld` (the corpus's stand-in for the site's own domain).
async fn across_subdomains() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), None);
    config.public_origin = Some(ACCOUNTS.into());
    config.cookie_domain = Some("whitelisteddomain.tld".into());
    config.trusted_proxies = vec!["127.0.0.1".into()];
    config.access_control = AccessControl {
        default_policy: Some("authenticated".into()),
        ..AccessControl::default()
    };
    TestApp::with_config(config, dir).await
}

/// Registers grace, from the accounts site itself.
async fn register_grace(app: &TestApp) {
    let body =
        serde_json::json!({"username": "grace", "email": "grace@example.com", "password": STRONG});
    let mut request = req(
        "POST",
        "/api/v1/register",
        Some(("application/json", body.to_string())),
        None,
        "127.0.9.9:40000",
    );
    request
        .headers_mut()
        .insert("origin", ACCOUNTS.parse().unwrap());
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
}

/// The login form posted from the accounts site itself, with `rd`.
fn login_form(rd: &str, client: &str) -> Request<Body> {
    let mut request = form(
        "/login",
        &[("identifier", "grace"), ("password", STRONG), ("rd", rd)],
        None,
        client,
    );
    request
        .headers_mut()
        .insert("origin", ACCOUNTS.parse().unwrap());
    request
}

/// Where a login's `Location` sends the browser: our own account page, or an https URL on
/// our domain (as a browser parses it: the url crate is a WHATWG URL parser).
fn stays_home(location: &str) -> bool {
    if location == "/account" {
        return true;
    }
    let Ok(url) = url::Url::parse(location) else {
        return false;
    };
    let host = url.host_str().unwrap_or_default();
    url.scheme() == "https"
        && url.username().is_empty()
        && url.password().is_none()
        && (host == "whitelisteddomain.tld" || host.ends_with(".whitelisteddomain.tld"))
}

/// Every open-redirect payload of the corpus as the login's `rd`: the login succeeds and
/// never leaves the site's own domain; the way back to a real app on it is followed.
#[tokio::test]
async fn login_goes_back_only_to_our_own_hosts() {
    let Some(dir) = super::attacks::payload_dir() else {
        return;
    };
    let app = across_subdomains().await;
    register_grace(&app).await;
    let good = "https://grafana.whitelisteddomain.tld/d/x?orgId=1";
    let reply = app.send(login_form(good, "127.0.9.1:40000")).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert_eq!(header(&reply, "location"), Some(good));

    // The login page for it lets its form lead there (a redirect after a post is checked
    // against form-action), and no further.
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("rd", good)
        .finish();
    let page = app.send(page_get(&format!("/login?{query}"), None)).await;
    let csp = header(&page, "content-security-policy").unwrap();
    assert!(
        csp.contains("form-action 'self' https://grafana.whitelisteddomain.tld;"),
        "{csp}"
    );
    let page = app
        .send(page_get("/login?rd=https://google.com/", None))
        .await;
    let csp = header(&page, "content-security-policy").unwrap();
    assert!(csp.contains("form-action 'self';"), "{csp}");

    let corpus = dir.join("payloadsallthethings/open-redirect");
    let (mut tried, mut followed) = (0, 0);
    for file in std::fs::read_dir(&corpus).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        for payload in String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|l| !l.is_empty())
        {
            tried += 1;
            let client = format!("127.0.{}.{}:40000", 10 + tried / 250, 1 + tried % 250);
            let reply = app.send(login_form(payload, &client)).await;
            assert_eq!(
                reply.status,
                StatusCode::SEE_OTHER,
                "{payload}: {}",
                reply.body
            );
            let location = header(&reply, "location").unwrap();
            assert!(
                stays_home(location),
                "{payload:?} sent the browser to {location:?}"
            );
            if location != "/account" {
                followed += 1;
            }
            // The login page carries only a checked `rd`.
            let query: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("rd", payload)
                .finish();
            let page = app.send(page_get(&format!("/login?{query}"), None)).await;
            if let Some(start) = page.body.find("name=\"rd\" value=\"") {
                let value = &page.body[start + 17..];
                let value = &value[..value.find('"').unwrap()];
                assert!(
                    stays_home(&value.replace("&amp;", "&")),
                    "{payload:?} carried as {value:?}"
                );
            }
        }
    }
    eprintln!("{tried} open-redirect payloads as rd: {followed} followed, all on our domain");
    assert!(tried > 300, "only {tried} payloads");
    // Two `rd`s: neither is carried.
    let page = app
        .send(page_get(
            &format!("/login?rd={good}&rd=https://google.com/"),
            None,
        ))
        .await;
    assert!(!page.body.contains("name=\"rd\""), "{}", page.body);
}

fn set_cookies(reply: &Reply) -> Vec<String> {
    reply
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// With `cookie_domain`, a login also issues a `__Secure-` cookie for the domain, which
/// the forward-auth endpoint accepts on a request to any app under it; logout clears both.
#[tokio::test]
async fn the_domain_cookie_carries_the_session_to_every_app() {
    let app = across_subdomains().await;
    register_grace(&app).await;
    let reply = app
        .send(login_form(
            "https://app.whitelisteddomain.tld/",
            "127.0.9.2:40000",
        ))
        .await;
    let cookies = set_cookies(&reply);
    let domain_cookie = cookies
        .iter()
        .find(|c| c.starts_with("__Secure-palisade-session="))
        .expect("the domain cookie");
    for attribute in [
        "Domain=whitelisteddomain.tld",
        "Secure",
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
    ] {
        assert!(domain_cookie.contains(attribute), "{domain_cookie}");
    }
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("__Host-palisade-session=") && !c.contains("Domain"))
    );
    let pair = domain_cookie.split(';').next().unwrap().to_owned();
    let ask_app = |cookie: String| {
        let headers = [
            ("x-forwarded-method", "GET"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "app.whitelisteddomain.tld"),
            ("x-forwarded-uri", "/"),
            ("cookie", cookie.as_str()),
        ];
        ask("forward-auth", PROXY, &headers)
    };
    let reply = app.send(ask_app(pair.clone())).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(header(&reply, "remote-user"), Some("grace"));
    // Logout (from the accounts site, where the browser sends both) clears both cookies,
    // and the session behind them is over.
    let host_pair = cookies
        .iter()
        .find(|c| c.starts_with("__Host-palisade-session="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let mut out = req("POST", "/api/v1/logout", None, None, "127.0.9.2:40000");
    out.headers_mut().insert(
        header::COOKIE,
        format!("{host_pair}; {pair}").parse().unwrap(),
    );
    out.headers_mut()
        .insert("origin", ACCOUNTS.parse().unwrap());
    let reply = app.send(out).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let cleared = set_cookies(&reply);
    for name in ["__Host-palisade-session=", "__Secure-palisade-session="] {
        assert!(
            cleared
                .iter()
                .any(|c| c.starts_with(name) && c.contains("Max-Age=0")),
            "{name} not cleared: {cleared:?}"
        );
    }
    let reply = app.send(ask_app(pair)).await;
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "the session is over"
    );
    assert!(header(&reply, "remote-user").is_none());
}

/// A cookie domain that would reach other people's sites, or does not hold the service, or
/// cannot be Secure, stops the start and says why.
#[tokio::test]
async fn a_cookie_domain_that_would_leak_is_refused() {
    for (origin, domain, why) in [
        ("https://accounts.example.com", "com", "a public suffix"),
        ("https://accounts.example.co.uk", "co.uk", "a public suffix"),
        ("https://a.github.io", "github.io", "a public suffix"),
        (
            "https://accounts.example.com",
            "example.org",
            "does not contain public_origin's host",
        ),
        (
            "https://accounts.example.com",
            "xample.com",
            "does not contain public_origin's host",
        ),
        (
            "http://accounts.example.com",
            "example.com",
            "needs an https public_origin",
        ),
        (
            "https://accounts.example.com",
            "example.com:443",
            "not a host name",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path(), None);
        config.public_origin = Some(origin.into());
        config.cookie_domain = Some(domain.into());
        let error = start_error(&config).await;
        assert!(
            error.contains("cookie_domain") && error.contains(why),
            "{domain}: {error}"
        );
    }
}

/// Envoy's check: the original method, path and Host, on any method; a browser's form post
/// with its cookie is judged, not refused as cross-site (the decision changes nothing),
/// while the rest of the API keeps refusing cookie-carrying posts without an Origin.
#[tokio::test]
async fn envoy_ext_authz_is_asked_with_the_original_request() {
    let app = protecting_app(None).await;
    app.register("judy", "judy@example.com", STRONG).await;
    let token = app.login("judy", STRONG).await;
    let cookie = format!("{}={token}", palisade_service::SESSION_COOKIE);
    let envoy = |method: &str, path: &str, peer: &str, extra: &[(&str, &str)]| {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("/api/v1/authz/ext-authz{path}"))
            .header("host", "app.example.com")
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-for", "198.51.100.7");
        for (name, value) in extra {
            builder = builder.header(*name, *value);
        }
        let mut request = builder.body(Body::empty()).unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        request
            .extensions_mut()
            .insert(palisade::http::ConnectionScheme::Https);
        request
    };
    let reply = app
        .send(envoy("POST", "/form?x=1", PROXY, &[BROWSER]))
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert_eq!(
        header(&reply, "location"),
        Some(&*format!(
            "{ORIGIN}/login?rd=https%3A%2F%2Fapp.example.com%2Fform%3Fx%3D1"
        ))
    );
    let reply = app
        .send(envoy(
            "POST",
            "/form",
            PROXY,
            &[BROWSER, ("cookie", &cookie)],
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(header(&reply, "remote-user"), Some("judy"));
    let reply = app
        .send(envoy(
            "DELETE",
            "/public/../admin",
            PROXY,
            &[("cookie", &cookie)],
        ))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::FORBIDDEN,
        "normalized to /admin: denied"
    );
    let reply = app
        .send(envoy("GET", "/public/a.css", "192.0.2.1:5000", &[]))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.json()["type"], "urn:palisade:problem:untrusted-proxy");
    let mut no_proto = envoy("GET", "/public/a.css", PROXY, &[]);
    no_proto.headers_mut().remove("x-forwarded-proto");
    let reply = app.send(no_proto).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // Over HTTP/2 the host is the :authority (in the URI), with no Host header; a Host
    // that disagrees with it is ambiguous, and the request is refused.
    let http2 = |host: Option<&str>| {
        let mut request = envoy("GET", "/app", PROXY, &[("cookie", &cookie)]);
        *request.version_mut() = http::Version::HTTP_2;
        *request.uri_mut() = "https://app.example.com/api/v1/authz/ext-authz/app"
            .parse()
            .unwrap();
        request.headers_mut().remove("host");
        if let Some(host) = host {
            request.headers_mut().insert("host", host.parse().unwrap());
        }
        request
    };
    let reply = app.send(http2(None)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(header(&reply, "remote-user"), Some("judy"));
    let reply = app.send(http2(Some("APP.example.com"))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let reply = app.send(http2(Some("other.example.com"))).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert_eq!(
        reply.json()["type"],
        "urn:palisade:problem:malformed-original-request"
    );
    // The exemption is this prefix only.
    let mut logout = req("POST", "/api/v1/logout", None, None, "198.51.100.7:5000");
    logout.headers_mut().remove("origin");
    logout
        .headers_mut()
        .insert(header::COOKIE, cookie.parse().unwrap());
    let reply = app.send(logout).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert_eq!(
        reply.json()["type"],
        "urn:palisade:problem:cross-site-request"
    );
}

/// A login waiting for its second step is nobody to the proxy: neither its token as a
/// bearer nor its cookie gets past forward-auth.
#[tokio::test]
async fn a_pending_login_passes_no_proxy() {
    let app = protecting_app(None).await;
    super::second_factor::enrolled(&app, "ivan").await;
    let pending = super::second_factor::pending_login(&app, "ivan", "127.0.0.1:40009").await;
    let bearer = format!("Bearer {pending}");
    let cookie = format!("{}={pending}", palisade_service::PENDING_LOGIN_COOKIE);
    for extra in [
        ("authorization", bearer.as_str()),
        ("cookie", cookie.as_str()),
    ] {
        let reply = app
            .send(ask(
                "forward-auth",
                PROXY,
                &forwarded("GET", "/", &[SCRIPT, extra]),
            ))
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
        assert!(header(&reply, "remote-user").is_none());
    }
}

/// `policy = "two_factor"`: a password-only session is refused, a session begun with a
/// code passes; an API token never does.
#[tokio::test]
async fn two_factor_rules_let_through_only_sessions_begun_with_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), None);
    config.trusted_proxies = vec!["127.0.0.1".into()];
    config.access_control = AccessControl {
        rules: vec![rule(&[], &[], "two_factor")],
        ..AccessControl::default()
    };
    let app = TestApp::with_config(config, dir).await;
    let user = super::second_factor::enrolled(&app, "nina").await;
    let ask_with = |token: &str| {
        let bearer = format!("Bearer {token}");
        ask(
            "forward-auth",
            PROXY,
            &forwarded("GET", "/", &[SCRIPT, ("authorization", bearer.as_str())]),
        )
    };
    // The session that enrolled proved the code when it confirmed the app.
    let reply = app.send(ask_with(&user.session)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    // A password-only session of another user without a factor: refused.
    assert_eq!(
        app.register("olga", "olga@example.com", STRONG)
            .await
            .status,
        StatusCode::CREATED
    );
    let password_only = app.login("olga", STRONG).await;
    let reply = app.send(ask_with(&password_only)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    // An API token of the enrolled user: one factor, refused.
    let token = app
        .json(
            "POST",
            "/api/v1/tokens",
            Some(serde_json::json!({"name": "ci"})),
            Some(&user.session),
        )
        .await;
    let token = token.json()["token"].as_str().unwrap().to_owned();
    let reply = app.send(ask_with(&token)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    // Signing in with the code: passes, named.
    let client = "127.0.0.1:40014";
    let pending = super::second_factor::pending_login(&app, "nina", client).await;
    app.clock.advance(30);
    let code = user.secret_code(app.clock.now());
    let done = app
        .send(super::second_factor::second_step(
            &pending,
            serde_json::json!({"code": code}),
            client,
        ))
        .await;
    let session = done.json()["token"].as_str().unwrap().to_owned();
    let reply = app.send(ask_with(&session)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(header(&reply, "remote-user"), Some("nina"));
}

/// A rule naming subjects followed by a broader allow for the same requests lets
/// non-members in by the second: the start says so, naming both rules (and says nothing
/// for the safe order, with a deny between them).
#[tokio::test]
async fn a_shadowed_subject_rule_is_told_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), None);
    config.trusted_proxies = vec!["127.0.0.1".into()];
    config.access_control = AccessControl {
        rules: vec![
            rule(&["/admin(/.*)?"], &["group:admins"], "authenticated"),
            rule(&[], &[], "authenticated"),
        ],
        ..AccessControl::default()
    };
    let shadowed = palisade_service::build(&config).await.unwrap();
    let warnings: Vec<&String> = shadowed
        .notes()
        .iter()
        .filter(|n| n.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "{:?}", shadowed.notes());
    assert!(
        warnings[0].contains("access_control.rules[0]")
            && warnings[0].contains("access_control.rules[1]"),
        "{}",
        warnings[0]
    );
    drop(shadowed);
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), None);
    config.trusted_proxies = vec!["127.0.0.1".into()];
    config.access_control = AccessControl {
        rules: vec![
            rule(&["/admin(/.*)?"], &["group:admins"], "authenticated"),
            rule(&["/admin(/.*)?"], &[], "deny"),
            rule(&[], &[], "authenticated"),
        ],
        ..AccessControl::default()
    };
    let safe = palisade_service::build(&config).await.unwrap();
    assert!(
        !safe.notes().iter().any(|n| n.starts_with("warning:")),
        "{:?}",
        safe.notes()
    );
}
