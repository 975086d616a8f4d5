//! The account API and pages, and the session attacks.

use http::StatusCode;
use serde_json::json;

use super::support::*;

/// Register, log in by username and by email, `me`, sessions, password change, logout.
pub(crate) async fn account_lifecycle(app: &TestApp) {
    let reply = app.register("Alice", "Alice@Example.COM", STRONG).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.json()["username"], "alice");
    assert_eq!(reply.json()["email"], "Alice@example.com");
    // Duplicates, by case-folded username or email.
    let dup = app.register("ALICE", "other@example.com", STRONG).await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(dup.json()["field"], "username");
    let dup = app.register("alice2", "alice@EXAMPLE.com", STRONG).await;
    assert_eq!(dup.json()["field"], "email");

    let first = app.login("alice", STRONG).await;
    let second = app.login("ALICE@example.com", STRONG).await;
    assert_ne!(first, second, "a new token at every login");
    let me = app.json("GET", "/api/v1/me", None, Some(&first)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.headers.get("cache-control").unwrap(), "no-store");
    assert!(!me.body.contains("password"));

    let sessions = app
        .json("GET", "/api/v1/sessions", None, Some(&first))
        .await
        .json();
    assert_eq!(sessions.as_array().unwrap().len(), 2);

    // Password change: needs the current password; ends the other session; new token here.
    let wrong = app.json("POST", "/api/v1/password", Some(json!({"current_password": "not it at all", "new_password": "quartz lantern meadow oboe"})), Some(&first)).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(wrong.json()["field"], "current_password");
    let changed = app
        .json(
            "POST",
            "/api/v1/password",
            Some(json!({"current_password": STRONG, "new_password": "quartz lantern meadow oboe"})),
            Some(&first),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let renewed = changed.json()["token"].as_str().unwrap().to_owned();
    // The cookie from before the change no longer works — neither this session's old
    // token nor the other session.
    assert_eq!(
        app.json("GET", "/api/v1/me", None, Some(&first))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.json("GET", "/api/v1/me", None, Some(&second))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.json("GET", "/api/v1/me", None, Some(&renewed))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.login_from("alice", STRONG, "127.0.0.1:40001")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    let out = app
        .json("POST", "/api/v1/logout", None, Some(&renewed))
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(out.headers.get("clear-site-data").is_some());
    assert_eq!(
        app.json("GET", "/api/v1/me", None, Some(&renewed))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    // The audit trail saw all of it.
    let store = &app;
    for (event, at_least) in [
        ("registered", 1),
        ("logged_in", 2),
        ("login_failed", 1),
        ("password_changed", 1),
        ("logged_out", 1),
    ] {
        assert!(
            store.audit_events_named(event).await.unwrap() >= at_least,
            "audit event {event}"
        );
    }
}

#[tokio::test]
async fn account_lifecycle_on_sqlite() {
    account_lifecycle(&TestApp::sqlite().await).await;
}

#[tokio::test]
async fn validation_errors_name_the_field_and_never_echo() {
    let app = TestApp::sqlite().await;
    let reply = app.register("bob", "bob@example.com", "short-pass").await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.headers.get("content-type").unwrap(),
        "application/problem+json"
    );
    assert_eq!(reply.json()["field"], "password");
    assert!(!reply.body.contains("short-pass"));
    let reply = app.register("bob", "not-an-email-MARKER", STRONG).await;
    assert_eq!(reply.json()["field"], "email");
    assert!(!reply.body.contains("MARKER"));
    let reply = app.json("POST", "/api/v1/register", Some(json!({"username": "bob", "email": "b@example.com", "password": STRONG, "is_admin": true})), None).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = app
        .json(
            "POST",
            "/api/v1/register",
            Some(json!({"username": 5, "email": "b@example.com", "password": "SECRETVALUE"})),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()["field"], "username");
    assert!(!reply.body.contains("SECRETVALUE"));
    let big = "x".repeat(100_000);
    let reply = app.register("bob", "bob@example.com", &big).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    // The user's own words do not make a strong password.
    let reply = app
        .register(
            "wilhelmina",
            "wilhelmina.karlsson@example.com",
            "wilhelminakarlsson",
        )
        .await;
    assert_eq!(reply.json()["field"], "password", "{}", reply.body);
    assert_eq!(app.users().await.unwrap().len(), 0);
}

#[tokio::test]
async fn unknown_and_known_accounts_get_the_same_answer_and_work() {
    let app = TestApp::sqlite().await;
    app.register("carol", "carol@example.com", STRONG).await;
    let before = app.hashes();
    let known = app
        .login_from("carol", "wrong password here", "127.0.0.1:1")
        .await;
    let unknown = app
        .login_from("nobody-here", "wrong password here", "127.0.0.1:2")
        .await;
    let bad_form = app
        .login_from("<script>", "wrong password here", "127.0.0.1:3")
        .await;
    assert_eq!(known.status, StatusCode::UNAUTHORIZED);
    assert_eq!(known.status, unknown.status);
    assert_eq!(known.body, unknown.body);
    assert_eq!(known.body, bad_form.body);
    assert_eq!(app.hashes() - before, 3, "one hash each, known or not");
}

#[tokio::test]
async fn expired_and_forged_sessions_are_refused() {
    let app = TestApp::sqlite().await;
    app.register("dave", "dave@example.com", STRONG).await;
    let token = app.login("dave", STRONG).await;
    // The stored hash is not a usable token.
    let stored: String = sqlx::query_scalar("SELECT token_hash FROM sessions")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(
        app.json("GET", "/api/v1/me", None, Some(&stored))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.json("GET", "/api/v1/me", None, Some(&stored[..43]))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.json("GET", "/api/v1/me", None, Some(&token))
            .await
            .status,
        StatusCode::OK
    );
    // Idle timeout.
    sqlx::query("UPDATE sessions SET last_seen_at = last_seen_at - 1801")
        .execute(&app.db)
        .await
        .unwrap();
    app.changed_elsewhere().await;
    assert_eq!(
        app.json("GET", "/api/v1/me", None, Some(&token))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // Absolute lifetime, even when active.
    let token = app.login("dave", STRONG).await;
    sqlx::query("UPDATE sessions SET expires_at = $1")
        .bind(app.clock.now() - 1)
        .execute(&app.db)
        .await
        .unwrap();
    app.changed_elsewhere().await;
    assert_eq!(
        app.json("GET", "/api/v1/me", None, Some(&token))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // Disabling the user ends access.
    let token = app.login("dave", STRONG).await;
    let user = app.user_named("dave").await;
    sqlx::query("UPDATE users SET disabled = 1 WHERE id = $1")
        .bind(user.id)
        .execute(&app.db)
        .await
        .unwrap();
    app.changed_elsewhere().await;
    assert_eq!(
        app.json("GET", "/api/v1/me", None, Some(&token))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login_from("dave", STRONG, "127.0.0.1:9").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn ending_another_session_needs_a_recent_password() {
    let app = TestApp::sqlite().await;
    app.register("erin", "erin@example.com", STRONG).await;
    let mine = app.login("erin", STRONG).await;
    let other = app.login("erin", STRONG).await;
    let other_id = app.session_id(&mine, false).await;
    // Fresh login: allowed without the password.
    assert_eq!(
        app.json(
            "DELETE",
            &format!("/api/v1/sessions/{other_id}"),
            None,
            Some(&mine)
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.json("GET", "/api/v1/me", None, Some(&other))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // Stale password entry: refused without it, allowed with it, and the token is renewed.
    let other = app.login("erin", STRONG).await;
    let other_id = app.session_id(&other, true).await;
    sqlx::query("UPDATE sessions SET last_auth_at = last_auth_at - 600")
        .execute(&app.db)
        .await
        .unwrap();
    app.changed_elsewhere().await;
    let refused = app
        .json(
            "DELETE",
            &format!("/api/v1/sessions/{other_id}"),
            None,
            Some(&mine),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.json()["field"], "password");
    let ok = app
        .json(
            "DELETE",
            &format!("/api/v1/sessions/{other_id}"),
            Some(json!({"password": STRONG})),
            Some(&mine),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let renewed = ok.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.json("GET", "/api/v1/me", None, Some(&mine))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.json("GET", "/api/v1/me", None, Some(&renewed))
            .await
            .status,
        StatusCode::OK
    );
    // Someone else's session id is not found.
    assert_eq!(
        app.json(
            "DELETE",
            "/api/v1/sessions/0123456789abcdef0123456789abcdef",
            None,
            Some(&renewed)
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    // … and the refusal is in the audit trail.
    assert_eq!(
        app.audit_events_named("session_end_refused").await.unwrap(),
        1
    );
}

#[tokio::test]
async fn imported_bcrypt_users_move_to_argon2id_on_login() {
    let app = TestApp::sqlite().await;
    // A hash as a Python app stored it: bcrypt(password + PEPPER) — here plain bcrypt.
    let legacy = bcrypt_hash("imported password 42");
    sqlx::query("INSERT INTO users (username, email, email_key, password_hash, disabled, created_at, password_changed_at) VALUES ($1, $2, $3, $4, 0, 0, 0)")
        .bind("frank").bind("frank@example.com").bind("frank@example.com").bind(&legacy)
        .execute(&app.db).await.unwrap();
    app.login("frank", "imported password 42").await;
    let stored: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE username = $1")
        .bind("frank")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(stored.starts_with("$pepper$1$argon2id$"), "{stored}");
    app.login("frank", "imported password 42").await;
}

fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap()
}

#[tokio::test]
async fn pages_work_without_javascript_and_carry_form_tokens() {
    let app = TestApp::sqlite().await;
    let page = app.send(page_get("/register", None)).await;
    assert_eq!(page.status, StatusCode::OK);
    let csp = page
        .headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'"));
    assert!(
        !page.body.contains("<script")
            && !page.body.contains("style=")
            && !page.body.contains(" on")
    );
    let done = app
        .send(form(
            "/register",
            &[
                ("username", "gina"),
                ("email", "gina@example.com"),
                ("display_name", "Gina <b>G</b>"),
                ("password", STRONG),
            ],
            None,
            "127.0.0.1:5",
        ))
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let weak = app
        .send(form(
            "/register",
            &[
                ("username", "hank"),
                ("email", "hank@example.com"),
                ("password", "password"),
            ],
            None,
            "127.0.0.1:5",
        ))
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        weak.body.contains("id=\"password-error\""),
        "the error sits beside its field"
    );
    assert!(
        weak.body.contains("value=\"hank@example.com\""),
        "entered values are kept"
    );

    let login = app
        .send(form(
            "/login",
            &[("identifier", "gina"), ("password", STRONG)],
            None,
            "127.0.0.1:5",
        ))
        .await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);
    let cookie = login.cookie().expect("session cookie");
    let set = login
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("__Host-palisade-session="))
        .unwrap();
    for attr in [
        "__Host-palisade-session=",
        "Secure",
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
    ] {
        assert!(set.contains(attr), "{set}");
    }
    let account = app.send(page_get("/account", Some(&cookie))).await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(
        account
            .body
            .contains("Hello, Gina &#60;b&#62;G&#60;/b&#62;")
            || account.body.contains("Hello, Gina &lt;b&gt;G&lt;/b&gt;"),
        "{}",
        account.body
    );
    assert_eq!(account.headers.get("cache-control").unwrap(), "no-store");
    let token = form_token(&account.body);
    // Without the form token (or with another session's), nothing happens.
    let forged = app
        .send(form(
            "/logout",
            &[("csrf", "forged")],
            Some(&cookie),
            "127.0.0.1:5",
        ))
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.send(page_get("/account", Some(&cookie))).await.status,
        StatusCode::OK
    );
    let out = app
        .send(form(
            "/logout",
            &[("csrf", &token)],
            Some(&cookie),
            "127.0.0.1:5",
        ))
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(out.headers.get("clear-site-data").is_some());
    assert_eq!(
        app.send(page_get("/account", Some(&cookie))).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn openapi_health_and_metrics() {
    let app = TestApp::sqlite().await;
    let doc = app
        .json("GET", "/api/v1/openapi.json", None, None)
        .await
        .json();
    for path in [
        "/api/v1/register",
        "/api/v1/login",
        "/api/v1/logout",
        "/api/v1/me",
        "/api/v1/password",
        "/api/v1/sessions",
        "/api/v1/sessions/{id}",
        "/api/v1/authz/forward-auth",
        "/api/v1/authz/auth-request",
        "/api/v1/tokens",
        "/api/v1/tokens/{id}",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert_eq!(
        app.json("GET", "/healthz", None, None).await.status,
        StatusCode::OK
    );
    let local = app
        .send(req("GET", "/metrics", None, None, "127.0.0.1:7"))
        .await;
    assert_eq!(local.status, StatusCode::OK);
    let mut remote = req("GET", "/metrics", None, None, "198.51.100.9:7");
    remote
        .extensions_mut()
        .insert(palisade::http::ConnectionScheme::Https);
    assert_eq!(
        app.send(remote).await.status,
        StatusCode::NOT_FOUND,
        "metrics are not public"
    );
}

#[tokio::test]
async fn csp_reports_are_stored() {
    let app = TestApp::sqlite().await;
    let body = r#"{"csp-report":{"document-uri":"http://127.0.0.1:8080/login","blocked-uri":"inline","violated-directive":"script-src-elem"}}"#;
    let reply = app
        .send(req(
            "POST",
            "/csp-report",
            Some(("application/csp-report", body.to_owned())),
            None,
            "127.0.0.1:8",
        ))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    for _ in 0..50 {
        if app.count_rows(CountedTable::CspReports).await.unwrap() == 1 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the report was not stored");
}

/// Only the routes are served: no source-control metadata, no directory listing, no TRACE,
/// no CORS grant, and every text answer names its charset.
#[tokio::test]
async fn nothing_but_the_routes_is_served() {
    let app = TestApp::sqlite().await;
    for path in [
        "/.git/config",
        "/.git/",
        "/.env",
        "/static/",
        "/static/../Cargo.toml",
        "/api/v1/../../etc/passwd",
        "/api/v1/.git/HEAD",
    ] {
        let reply = app.send(req("GET", path, None, None, "127.0.0.1:7")).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            reply.body
        );
        assert!(!reply.body.contains("Index of"), "{path}");
    }
    // What axum refuses itself is a problem too, with a sentence: a path parameter that
    // is not UTF-8 (for a signed-in user, who gets that far), a method a route does not take.
    assert_eq!(
        app.register("paths", "paths@example.com", STRONG)
            .await
            .status,
        StatusCode::CREATED
    );
    let session = app.login("paths", STRONG).await;
    for (method, path, status) in [
        (
            "POST",
            "/api/v1/mfa/totp/%00%ff/confirm",
            StatusCode::BAD_REQUEST,
        ),
        ("DELETE", "/api/v1/me", StatusCode::METHOD_NOT_ALLOWED),
        ("PUT", "/api/v1/register", StatusCode::METHOD_NOT_ALLOWED),
    ] {
        let reply = app
            .send(req(method, path, None, Some(&session), "127.0.0.1:7"))
            .await;
        assert_eq!(reply.status, status, "{method} {path}: {}", reply.body);
        assert_eq!(
            reply.headers.get("content-type").unwrap(),
            "application/problem+json",
            "{method} {path}"
        );
        let detail = reply.json()["detail"].as_str().unwrap().to_owned();
        assert!(detail.ends_with('.'), "{method} {path}: {detail}");
    }
    let trace = app.send(req("TRACE", "/", None, None, "127.0.0.1:7")).await;
    assert!(
        matches!(
            trace.status,
            StatusCode::METHOD_NOT_ALLOWED | StatusCode::FORBIDDEN
        ),
        "TRACE answered {}",
        trace.status
    );
    for path in ["/login", "/healthz", "/api/v1/me", "/static/style.css"] {
        let reply = app.send(req("GET", path, None, None, "127.0.0.1:7")).await;
        assert!(
            reply.headers.get("access-control-allow-origin").is_none(),
            "{path} grants CORS"
        );
        let content_type = reply.headers.get("content-type").unwrap().to_str().unwrap();
        assert!(
            content_type.contains("json") || content_type.contains("charset=utf-8"),
            "{path}: {content_type}"
        );
    }
}

/// A password built from the site's name is refused there, and the same password is
/// accepted by a site with another name (so it is the context, not the password, at work).
#[tokio::test]
async fn a_password_built_from_the_sites_name_is_refused() {
    let password = "QuillmarshLending";
    let body = json!({"username": "carol", "email": "carol@example.com", "password": password});
    let mut answers = Vec::new();
    for site in ["Quillmarsh Lending", "Other Bank"] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path(), None);
        config.site_name = site.into();
        let app = TestApp::with_config(config, dir).await;
        let reply = app
            .json("POST", "/api/v1/register", Some(body.clone()), None)
            .await;
        answers.push((reply.status, reply.json()["field"].clone()));
    }
    assert_eq!(
        answers[0].0,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{answers:?}"
    );
    assert_eq!(answers[0].1, "password");
    assert_eq!(answers[1].0, StatusCode::CREATED, "{answers:?}");
}
