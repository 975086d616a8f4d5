//! The console's pages (`/admin`): the same 404 as a path that does not exist for everyone
//! but an administrator (an administrator without a second factor is sent to add one);
//! every change is a form that needs this session's form token, a same-site request, the
//! password when stale, a second factor when it concerns who administers; no page shows a
//! secret.

use http::StatusCode;
use serde_json::json;

use super::second_factor::{Enrolled, enrolled};
use super::support::{STRONG, TestApp, form, form_token, page_get};

const CLIENT: &str = "203.0.113.50:4000";

async fn make_admin(app: &TestApp, name: &str) {
    sqlx::query("INSERT INTO user_groups (user_id, name) SELECT id, 'admins' FROM users WHERE username = $1")
        .bind(name)
        .execute(&app.db)
        .await
        .unwrap();
}

async fn admin(app: &TestApp, name: &str) -> Enrolled {
    let enrolled = enrolled(app, name).await;
    make_admin(app, name).await;
    enrolled
}

async fn in_group(app: &TestApp, name: &str, group: &str) -> bool {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM user_groups g JOIN users u ON u.id = g.user_id WHERE u.username = $1 AND g.name = $2",
    )
    .bind(name)
    .bind(group)
    .fetch_one(&app.db)
    .await
    .unwrap();
    n > 0
}

#[tokio::test]
async fn the_console_is_not_found_by_anyone_but_an_administrator() {
    let app = TestApp::sqlite().await;
    let root = admin(&app, "root").await;
    assert_eq!(
        app.register("carol", "carol@example.com", STRONG)
            .await
            .status,
        StatusCode::CREATED
    );
    let carol = app.login("carol", STRONG).await;
    let dave = enrolled(&app, "dave").await;
    assert_eq!(
        app.register("erin", "erin@example.com", STRONG)
            .await
            .status,
        StatusCode::CREATED
    );
    make_admin(&app, "erin").await;
    let erin = app.login("erin", STRONG).await;
    let unknown = app.send(page_get("/no-such-page", None)).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let paths = [
        "/admin",
        "/admin/",
        "/admin/users/root",
        "/admin/users/nobody",
        "/admin/audit",
        "/admin/audit?user=root",
        "/admin/groups",
        "/admin/operations",
        "/admin/nothing-here",
        "/admin//users/root",
        "/admin/%75sers/root",
        "/ADMIN",
    ];
    let who: [(&str, Option<&str>); 3] = [
        ("anonymous", None),
        ("a user", Some(&carol)),
        ("a user with a second factor", Some(&dave.session)),
    ];
    for (label, cookie) in who {
        for path in paths {
            let reply = app.send(page_get(path, cookie)).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{label}: GET {path}");
            assert_eq!(reply.body, unknown.body, "{label}: GET {path}");
        }
        // A change: the same 404, and nothing changed.
        let posted = app
            .send(form(
                "/admin/users/carol/group-add",
                &[("csrf", "x"), ("group", "admins"), ("password", STRONG)],
                cookie,
                CLIENT,
            ))
            .await;
        assert_eq!(posted.status, StatusCode::NOT_FOUND, "{label}: POST");
        assert_eq!(posted.body, unknown.body, "{label}: POST");
    }
    assert!(!in_group(&app, "carol", "admins").await);
    // An administrator without a second factor is sent to add one.
    let sent = app.send(page_get("/admin", Some(&erin))).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    assert_eq!(sent.headers["location"], "/account/second-factors");
    // The administrator with one gets in.
    let page = app.send(page_get("/admin", Some(&root.session))).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for name in ["carol", "dave", "erin", "root"] {
        assert!(
            page.body.contains(&format!("/admin/users/{name}\"")),
            "{name}"
        );
    }
    assert_eq!(page.headers["cache-control"], "no-store");
}

#[tokio::test]
async fn the_console_changes_users_with_forms_that_other_sites_cannot_send() {
    let app = TestApp::sqlite().await;
    let root = admin(&app, "root").await;
    let carol = enrolled(&app, "carol").await;
    let token = app
        .json(
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": "ci"})),
            Some(&carol.session),
        )
        .await;
    let token = token.json()["token"].as_str().unwrap().to_owned();
    let page = app
        .send(page_get("/admin/users/carol", Some(&root.session)))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    // No secret of hers on it.
    let base32 = carol.secret.to_base32().expose(str::to_owned);
    for secret in [token.as_str(), base32.as_str(), carol.session.as_str()]
        .into_iter()
        .chain(carol.recovery_codes.iter().map(String::as_str))
    {
        assert!(!page.body.contains(secret), "the page shows a secret");
    }
    assert!(!page.body.contains("$argon2") && !page.body.contains("$pepper$"));
    assert!(page.body.contains(">phone<"), "her factor's name");
    let csrf = form_token(&page.body);
    let post = |path: &str, fields: Vec<(&'static str, String)>| {
        let path = path.to_owned();
        let session = root.session.clone();
        let app = &app;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.send(form(&path, &fields, Some(&session), CLIENT)).await
        }
    };
    // Another site's request: refused by the shield, nothing changed.
    let mut cross = form(
        "/admin/users/carol/group-add",
        &[("csrf", &csrf), ("group", "staff")],
        Some(&root.session),
        CLIENT,
    );
    cross
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    cross
        .headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().unwrap());
    assert_eq!(app.send(cross).await.status, StatusCode::FORBIDDEN);
    // Without this session's form token: refused.
    let forged = post(
        "/admin/users/carol/group-add",
        vec![("csrf", "forged".into()), ("group", "staff".into())],
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.body);
    assert!(!in_group(&app, "carol", "staff").await);
    // With it: done, and back to her page saying so.
    let added = post(
        "/admin/users/carol/group-add",
        vec![("csrf", csrf.clone()), ("group", "staff".into())],
    )
    .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    assert_eq!(
        added.headers["location"],
        "/admin/users/carol?done=group-add"
    );
    assert!(in_group(&app, "carol", "staff").await);
    // Making her an administrator needs a second factor: without one, the page says so.
    let refused = post(
        "/admin/users/carol/group-add",
        vec![("csrf", csrf.clone()), ("group", "admins".into())],
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.body.contains("role=\"alert\""));
    assert!(!in_group(&app, "carol", "admins").await);
    let granted = post(
        "/admin/users/carol/group-add",
        vec![
            ("csrf", csrf.clone()),
            ("group", "admins".into()),
            ("code", root.recovery_codes[0].clone()),
        ],
    )
    .await;
    assert_eq!(granted.status, StatusCode::SEE_OTHER, "{}", granted.body);
    assert!(in_group(&app, "carol", "admins").await);
    let mailed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE kind = 'admin_rights_granted' AND recipient = 'carol@example.com'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(mailed, 1, "she is told");
    // Now she administers: ending her sessions needs a second factor too.
    let refused = post(
        "/admin/users/carol/end-sessions",
        vec![("csrf", csrf.clone())],
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let me = app
        .json("GET", "/api/v1/me", None, Some(&carol.session))
        .await;
    assert_eq!(me.status, StatusCode::OK);
    let ended = post(
        "/admin/users/carol/end-sessions",
        vec![
            ("csrf", csrf.clone()),
            ("code", root.recovery_codes[1].clone()),
        ],
    )
    .await;
    assert_eq!(ended.status, StatusCode::SEE_OTHER, "{}", ended.body);
    let me = app
        .json("GET", "/api/v1/me", None, Some(&carol.session))
        .await;
    assert_eq!(
        me.status,
        StatusCode::UNAUTHORIZED,
        "her next request is refused"
    );
    // Resetting her factors: gone, her token with them, and she is told.
    let reset = post(
        "/admin/users/carol/reset-second-factors",
        vec![
            ("csrf", csrf.clone()),
            ("code", root.recovery_codes[2].clone()),
        ],
    )
    .await;
    assert_eq!(reset.status, StatusCode::SEE_OTHER, "{}", reset.body);
    let factors: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM second_factors f JOIN users u ON u.id = f.user_id WHERE u.username = 'carol'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(factors, 0);
    let me = app.json("GET", "/api/v1/me", None, Some(&token)).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    // Past the re-authentication window, a change needs the password again.
    app.clock.advance(6 * 60);
    let stale = app
        .send(page_get("/admin/users/carol", Some(&root.session)))
        .await;
    assert!(stale.body.contains("name=\"password\""));
    let refused = post(
        "/admin/users/carol/reset-link",
        vec![
            ("csrf", csrf.clone()),
            ("code", root.recovery_codes[3].clone()),
        ],
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let mailed = post(
        "/admin/users/carol/reset-link",
        vec![
            ("csrf", csrf.clone()),
            ("password", STRONG.into()),
            ("code", root.recovery_codes[4].clone()),
        ],
    )
    .await;
    assert_eq!(mailed.status, StatusCode::SEE_OTHER, "{}", mailed.body);
    let links: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE kind = 'password_reset' AND recipient = 'carol@example.com'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(links, 1, "the link is mailed to her, never shown");
    // The password renewed the session's token (its form token stays).
    let renewed = mailed.cookie().expect("a renewed session");
    // Deleting needs the username typed again; nobody deletes themselves here.
    let unconfirmed = app
        .send(form(
            "/admin/users/carol/delete",
            &[
                ("csrf", &csrf),
                ("code", &root.recovery_codes[5]),
                ("confirm", "caro"),
            ],
            Some(&renewed),
            CLIENT,
        ))
        .await;
    assert_eq!(
        unconfirmed.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        unconfirmed.body
    );
    assert!(unconfirmed.body.contains("role=\"alert\""));
    let deleted = app
        .send(form(
            "/admin/users/carol/delete",
            &[
                ("csrf", &csrf),
                ("code", &root.recovery_codes[5]),
                ("confirm", "carol"),
            ],
            Some(&renewed),
            CLIENT,
        ))
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
    assert_eq!(deleted.headers["location"], "/admin?deleted=1");
    let audited: String =
        sqlx::query_scalar("SELECT detail FROM audit_events WHERE event = 'admin_user_deleted'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(audited.starts_with("by root (id "), "{audited}");
    let after = app.send(page_get("/admin?deleted=1", Some(&renewed))).await;
    assert!(after.body.contains("The account is deleted"));
    let own = app
        .send(page_get("/admin/users/root", Some(&renewed)))
        .await;
    assert!(!own.body.contains("/admin/users/root/delete"));
}

#[tokio::test]
async fn the_audit_and_operations_pages_show_what_happened_and_refuse_bad_filters() {
    let app = TestApp::sqlite().await;
    let root = admin(&app, "root").await;
    let audit = app
        .send(page_get("/admin/audit?user=root", Some(&root.session)))
        .await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.body);
    assert!(audit.body.contains("registered"));
    assert!(
        audit
            .body
            .contains("/api/v1/admin/audit/export?format=csv&amp;user=root")
    );
    for bad in [
        "/admin/audit?since=2026-02-30",
        "/admin/audit?client=not-an-address",
        "/admin/audit?event=DROP%20TABLE",
        "/admin/audit?user=%3Cscript%3E",
    ] {
        let reply = app.send(page_get(bad, Some(&root.session))).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(reply.body.contains("role=\"alert\""), "{bad}");
        assert!(!reply.body.contains("<script>"), "{bad}");
    }
    let unknown = app
        .send(page_get("/admin/audit?sort=id", Some(&root.session)))
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let ops = app
        .send(page_get("/admin/operations", Some(&root.session)))
        .await;
    assert_eq!(ops.status, StatusCode::OK, "{}", ops.body);
    assert!(ops.body.contains("SQLite 3."));
    assert!(ops.body.contains(env!("CARGO_PKG_VERSION")));
    assert!(ops.body.contains("seals new secrets"));
    let groups = app
        .send(page_get("/admin/groups", Some(&root.session)))
        .await;
    assert!(groups.body.contains("/admin?group=admins"));
    let members = app
        .send(page_get("/admin?group=admins", Some(&root.session)))
        .await;
    assert!(members.body.contains("/admin/users/root\""));
    // A page of the search with a bad filter says so.
    let bad = app
        .send(page_get(
            "/admin?group=Not%20A%20Group",
            Some(&root.session),
        ))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}
