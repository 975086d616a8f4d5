//! The admin API: nobody but an administrator with a second-factor session learns it is
//! there (404 for every path and method, whatever the variant), searches page by keyset,
//! changes need a recent password and are audited with who, whom, from where and what, a
//! change to who administers needs a fresh second factor, and the last administrator
//! stays — also with requests in flight on SQLite and across two PostgreSQL instances.

use http::StatusCode;
use serde_json::{Value, json};

use super::concurrency::flood;
use super::postgres::two_instances;
use super::second_factor::{Enrolled, enrolled};
use super::support::{STRONG, TestApp, req};
use super::test_database::TestDatabase as PgDb;

const CLIENT: &str = "203.0.113.9:4000";

async fn make_admin(app: &TestApp, name: &str) {
    sqlx::query("INSERT INTO user_groups (user_id, name) SELECT id, 'admins' FROM users WHERE username = $1")
        .bind(name)
        .execute(&app.db)
        .await
        .unwrap();
}

/// An administrator whose session began with a second factor.
async fn admin(app: &TestApp, name: &str) -> Enrolled {
    let enrolled = enrolled(app, name).await;
    make_admin(app, name).await;
    enrolled
}

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> super::support::Reply {
    let body = body.map(|b| ("application/json", b.to_string()));
    app.send(req(method, path, body, token, CLIENT)).await
}

async fn admins(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT u.username FROM users u JOIN user_groups g ON g.user_id = u.id \
         WHERE g.name = 'admins' ORDER BY u.username",
    )
    .fetch_all(&app.db)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_admin_api_is_not_found_by_anyone_but_an_administrator() {
    let app = TestApp::sqlite().await;
    let root = admin(&app, "root").await;
    assert_eq!(
        app.register("carol", "carol@example.com", STRONG)
            .await
            .status,
        StatusCode::CREATED
    );
    let carol = app.login("carol", STRONG).await;
    let dave = enrolled(&app, "dave").await; // a second factor, but no administrator
    // An administrator whose session did not begin with a second factor.
    assert_eq!(
        app.register("erin", "erin@example.com", STRONG)
            .await
            .status,
        StatusCode::CREATED
    );
    make_admin(&app, "erin").await;
    let erin = app.login("erin", STRONG).await;
    let token = call(
        &app,
        "POST",
        "/api/v1/tokens",
        Some(json!({"name": "ci"})),
        Some(&carol),
    )
    .await;
    let api_token = token.json()["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // An administrator's own API token reaches no more of it than anyone's.
    let token = call(
        &app,
        "POST",
        "/api/v1/tokens",
        Some(json!({"name": "ops"})),
        Some(&root.session),
    )
    .await;
    assert_eq!(token.status, StatusCode::CREATED, "{}", token.body);
    let admin_token = token.json()["token"].as_str().unwrap().to_owned();

    let unknown = call(&app, "GET", "/api/v1/nothing-here", None, None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let requests: &[(&str, &str)] = &[
        ("GET", "/api/v1/admin/users"),
        ("GET", "/api/v1/admin/users?q=r"),
        ("GET", "/api/v1/admin/users/root"),
        ("GET", "/api/v1/admin/users/nobody"),
        ("POST", "/api/v1/admin/users/root/disable"),
        ("POST", "/api/v1/admin/users/root/end-sessions"),
        ("PUT", "/api/v1/admin/users/carol/groups/admins"),
        ("DELETE", "/api/v1/admin/users/root/groups/admins"),
        ("PATCH", "/api/v1/admin/users"),
        ("GET", "/api/v1/admin"),
        ("GET", "/api/v1/admin/"),
        ("GET", "/api/v1/admin/users/"),
        ("GET", "/api/v1/admin//users"),
        ("GET", "/api/v1/admin/%75sers"),
        ("GET", "/api/v1/ADMIN/users"),
        ("GET", "/api/v1/admin/nothing-here"),
        ("OPTIONS", "/api/v1/admin/users"),
    ];
    let who: [(&str, Option<&str>); 5] = [
        ("anonymous", None),
        ("a user", Some(&carol)),
        ("a user with a second factor", Some(&dave.session)),
        ("an API token", Some(&api_token)),
        ("an administrator's API token", Some(&admin_token)),
    ];
    for (label, token) in who {
        for (method, path) in requests {
            let body = (*method != "GET").then(|| json!({"password": STRONG}));
            let reply = call(&app, method, path, body, token).await;
            assert_eq!(
                reply.status,
                StatusCode::NOT_FOUND,
                "{label}: {method} {path}: {}",
                reply.body
            );
            assert_eq!(reply.body, unknown.body, "{label}: {method} {path}");
            assert_eq!(
                reply.headers.get("content-type"),
                unknown.headers.get("content-type")
            );
        }
    }
    // The administrator without a second-factor session is told what to do.
    let refused = call(&app, "GET", "/api/v1/admin/users", None, Some(&erin)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(problem_kind(&refused), "admin-second-factor-required");
    // And the administrator with one gets in.
    let listed = call(
        &app,
        "GET",
        "/api/v1/admin/users",
        None,
        Some(&root.session),
    )
    .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.json()["users"].as_array().unwrap().len(), 4);
    // Nothing was changed by the refused requests.
    assert_eq!(admins(&app).await, ["erin", "root"]);
}

/// The last segment of a problem's `type` (`urn:palisade:problem:refused` → `refused`).
fn problem_kind(reply: &super::support::Reply) -> String {
    let kind = reply.json()["type"].as_str().unwrap_or_default().to_owned();
    kind.rsplit([':', '/'])
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Registers `name` from an address of its own (registration is throttled per address).
async fn register(app: &TestApp, name: &str, i: usize, display_name: Option<String>) {
    let mut body =
        json!({"username": name, "email": format!("{name}@example.com"), "password": STRONG});
    if let Some(display) = display_name {
        body["display_name"] = json!(display);
    }
    let client = format!("198.18.{}.{}:1", i / 250, i % 250 + 1);
    let reply = app
        .send(req(
            "POST",
            "/api/v1/register",
            Some(("application/json", body.to_string())),
            None,
            &client,
        ))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{name}: {}", reply.body);
}

#[tokio::test]
async fn the_search_finds_by_prefix_whatever_the_case_and_pages_by_keyset_on_sqlite() {
    the_search_finds_by_prefix_whatever_the_case_and_pages_by_keyset(&TestApp::sqlite().await)
        .await;
}

#[tokio::test]
async fn the_search_finds_by_prefix_whatever_the_case_and_pages_by_keyset_on_postgres() {
    let Some(db) = PgDb::create("the admin user search on PostgreSQL").await else {
        return;
    };
    let (app, other) = two_instances(&db).await;
    the_search_finds_by_prefix_whatever_the_case_and_pages_by_keyset(&app).await;
    drop((app, other));
    db.drop_db().await;
}

async fn the_search_finds_by_prefix_whatever_the_case_and_pages_by_keyset(app: &TestApp) {
    let root = admin(app, "root").await;
    for i in 0..23 {
        register(app, &format!("user{i:02}"), i, Some(format!("Alice {i}"))).await;
    }
    sqlx::query("UPDATE users SET email = 'amy.' || username || '@example.com', email_key = 'amy.' || username || '@example.com' WHERE username LIKE 'user%' AND (CAST(substr(username, 5) AS INTEGER) % 2) = 1")
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("UPDATE users SET disabled = 1 WHERE username IN ('user03', 'user04')")
        .execute(&app.db)
        .await
        .unwrap();
    let search = |query: &str| {
        let path = format!("/api/v1/admin/users{query}");
        let session = root.session.clone();

        async move { call(app, "GET", &path, None, Some(&session)).await }
    };
    let names = |reply: &super::support::Reply| -> Vec<String> {
        reply.json()["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_owned())
            .collect()
    };
    // Every user once, ten at a time.
    let (mut all, mut after) = (Vec::new(), String::new());
    loop {
        let page = search(&format!("?limit=10&after={after}")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        all.extend(names(&page));
        match page.json()["next"].as_str() {
            Some(next) => after = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(all.len(), 24);
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, all, "in order, no user twice");
    // By username, address and display name, whatever the case; wildcards are literal.
    assert_eq!(names(&search("?q=USER1").await).len(), 10);
    assert_eq!(names(&search("?q=AMY.").await).len(), 11, "addresses");
    assert_eq!(
        names(&search("?q=aLiCe%201").await).len(),
        11,
        "display names"
    );
    assert_eq!(
        names(&search("?q=%25").await).len(),
        0,
        "% is a character, not a wildcard"
    );
    assert_eq!(
        names(&search("?q=_ser").await).len(),
        0,
        "_ is a character, not a wildcard"
    );
    assert_eq!(names(&search("?disabled=true").await), ["user03", "user04"]);
    assert_eq!(
        names(&search("?no_second_factor=true&q=root").await).len(),
        0
    );
    assert_eq!(names(&search("?group=admins").await), ["root"]);
    assert_eq!(names(&search("?unconfirmed=true&q=user0").await).len(), 10);
    // Bad parameters are refused, naming the parameter; repeated ones too.
    for (query, field) in [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?limit=ten", "limit"),
        ("?sort=email", "sort"),
        ("?q=a&q=b", "q"),
        ("?group=Not%20A%20Group", "group"),
        ("?disabled=maybe", "disabled"),
    ] {
        let reply = search(query).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{query}: {}",
            reply.body
        );
        let named = reply.json()["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(named.is_empty() || named == field, "{query}: {named}");
    }
    let long = format!("?q={}", "a".repeat(129));
    assert_eq!(search(&long).await.status, StatusCode::BAD_REQUEST);
    // A user's page shows no secret.
    let detail = call(
        app,
        "GET",
        "/api/v1/admin/users/root",
        None,
        Some(&root.session),
    )
    .await;
    assert_eq!(detail.status, StatusCode::OK);
    let text = detail.body.to_lowercase();
    for secret in [
        "password_hash",
        "$argon2",
        "secret_sealed",
        "token_hash",
        &root.session.to_lowercase(),
    ] {
        assert!(!text.contains(secret), "{secret} in {}", detail.body);
    }
    assert_eq!(detail.json()["second_factors"][0]["kind"], "totp");
    assert_eq!(detail.json()["groups"], json!(["admins"]));
    assert_eq!(
        call(
            app,
            "GET",
            "/api/v1/admin/users/nobody",
            None,
            Some(&root.session)
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn changes_need_a_recent_password_and_are_audited() {
    let app = TestApp::sqlite().await;
    let root = admin(&app, "root").await;
    assert_eq!(
        app.register("carol", "carol@example.com", STRONG)
            .await
            .status,
        StatusCode::CREATED
    );
    let carol = app.login("carol", STRONG).await;
    // Another site cannot make the administrator's browser do it.
    let mut cross_site = req(
        "POST",
        "/api/v1/admin/users/carol/end-sessions",
        None,
        Some(&root.session),
        CLIENT,
    );
    cross_site
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    assert_eq!(app.send(cross_site).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        call(&app, "GET", "/api/v1/me", None, Some(&carol))
            .await
            .status,
        StatusCode::OK
    );
    let ended = call(
        &app,
        "POST",
        "/api/v1/admin/users/carol/end-sessions",
        None,
        Some(&root.session),
    )
    .await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.body);
    assert_eq!(ended.json()["sessions_ended"], 1);
    assert_eq!(
        call(&app, "GET", "/api/v1/me", None, Some(&carol))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let (event, subject, client, detail): (String, String, String, String) = sqlx::query_as(
        "SELECT event, subject, client_addr, detail FROM audit_events WHERE event LIKE 'admin_%' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(
        (event.as_str(), subject.as_str(), client.as_str()),
        ("admin_sessions_ended", "carol", "203.0.113.9")
    );
    assert!(
        detail.starts_with("by root (id ") && detail.ends_with("ended 1 sessions"),
        "{detail}"
    );

    // Past the re-authentication window, a change needs the password again.
    app.clock.advance(6 * 60);
    let refused = call(
        &app,
        "POST",
        "/api/v1/admin/users/carol/disable",
        None,
        Some(&root.session),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(problem_kind(&refused), "reauthentication-required");
    let wrong = call(
        &app,
        "POST",
        "/api/v1/admin/users/carol/disable",
        Some(json!({"password": "not it at all"})),
        Some(&root.session),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.login_from("carol", STRONG, "198.51.100.1:1")
            .await
            .status,
        StatusCode::OK,
        "nothing changed yet"
    );
    let disabled = call(
        &app,
        "POST",
        "/api/v1/admin/users/carol/disable",
        Some(json!({"password": STRONG})),
        Some(&root.session),
    )
    .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.body);
    let renewed = disabled.json()["token"].as_str().unwrap().to_owned();
    assert_ne!(
        call(
            &app,
            "POST",
            "/api/v1/login",
            Some(json!({"identifier": "carol", "password": STRONG})),
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    // Nobody disables themselves.
    let own = call(
        &app,
        "POST",
        "/api/v1/admin/users/root/disable",
        None,
        Some(&renewed),
    )
    .await;
    assert_eq!(own.status, StatusCode::CONFLICT, "{}", own.body);
    assert_eq!(problem_kind(&own), "refused");
    let enabled = call(
        &app,
        "POST",
        "/api/v1/admin/users/carol/enable",
        None,
        Some(&renewed),
    )
    .await;
    assert_eq!(enabled.status, StatusCode::OK);
    let events: Vec<String> =
        sqlx::query_scalar("SELECT event FROM audit_events WHERE event LIKE 'admin_%' ORDER BY id")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(
        events,
        [
            "admin_sessions_ended",
            "admin_user_disabled",
            "admin_user_enabled"
        ]
    );
    // Unknown body fields are refused before anything changes.
    let odd = call(
        &app,
        "POST",
        "/api/v1/admin/users/carol/disable",
        Some(json!({"passwd": STRONG})),
        Some(&renewed),
    )
    .await;
    assert_eq!(odd.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn who_administers_changes_only_with_a_fresh_second_factor_and_never_to_nobody() {
    let app = TestApp::sqlite().await;
    let root = admin(&app, "root").await;
    let dave = enrolled(&app, "dave").await;
    let grant = "/api/v1/admin/users/dave/groups/admins";
    let without = call(&app, "PUT", grant, None, Some(&root.session)).await;
    assert_eq!(without.status, StatusCode::FORBIDDEN, "{}", without.body);
    assert_eq!(problem_kind(&without), "second-factor-required");
    assert_eq!(admins(&app).await, ["root"]);
    app.clock.advance(30); // the enrolment used this step's code
    let code = root.secret_code(app.clock.now());
    let granted = call(
        &app,
        "PUT",
        grant,
        Some(json!({"code": code})),
        Some(&root.session),
    )
    .await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.body);
    assert_eq!(admins(&app).await, ["dave", "root"]);
    // Other groups need only the recent password.
    let staff = call(
        &app,
        "PUT",
        "/api/v1/admin/users/dave/groups/staff",
        None,
        Some(&root.session),
    )
    .await;
    assert_eq!(staff.status, StatusCode::OK, "{}", staff.body);
    // dave takes root's rights away, then cannot take his own: he is the last.
    app.clock.advance(30);
    let revoke = call(
        &app,
        "DELETE",
        "/api/v1/admin/users/root/groups/admins",
        Some(json!({"code": dave.secret_code(app.clock.now())})),
        Some(&dave.session),
    )
    .await;
    assert_eq!(revoke.status, StatusCode::OK, "{}", revoke.body);
    assert_eq!(
        call(
            &app,
            "GET",
            "/api/v1/admin/users",
            None,
            Some(&root.session)
        )
        .await
        .status,
        StatusCode::NOT_FOUND,
        "root is no administrator from the next request"
    );
    app.clock.advance(30);
    let last = call(
        &app,
        "DELETE",
        "/api/v1/admin/users/dave/groups/admins",
        Some(json!({"recovery_code": dave.recovery_codes[0]})),
        Some(&dave.session),
    )
    .await;
    assert_eq!(last.status, StatusCode::CONFLICT, "{}", last.body);
    assert_eq!(admins(&app).await, ["dave"]);
}

/// 64 group changes in flight, on users of their own: none is lost, each is audited once.
async fn no_group_change_is_lost(apps: &[&TestApp]) {
    let app = apps[0];
    let root = admin(app, "root").await;
    for i in 0..64 {
        register(app, &format!("member{i:02}"), i, None).await;
    }
    let session = root.session.clone();
    let statuses = flood(apps, 64, 64, None, move |i| {
        req(
            "PUT",
            &format!("/api/v1/admin/users/member{i:02}/groups/staff"),
            None,
            Some(&session),
            CLIENT,
        )
    })
    .await;
    assert_eq!(statuses.get(&200), Some(&64), "{statuses:?}");
    let members: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM user_groups WHERE name = 'staff'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let audited: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE event = 'admin_group_added'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((members, audited), (64, 64));
}

#[tokio::test]
async fn no_group_change_is_lost_on_sqlite() {
    no_group_change_is_lost(&[&TestApp::sqlite().await]).await;
}

#[tokio::test]
async fn no_group_change_is_lost_across_two_instances_on_postgres() {
    let Some(db) = PgDb::create("admin group changes across two PostgreSQL instances").await else {
        return;
    };
    let (a, b) = two_instances(&db).await;
    no_group_change_is_lost(&[&a, &b]).await;
}

/// Two administrators take each other's rights at once, each with all ten recovery codes:
/// one administrator remains, never none.
async fn the_last_administrator_stays(apps: &[&TestApp]) {
    let app = apps[0];
    let amy = admin(app, "amy").await;
    let bob = admin(app, "bob").await;
    let (amy_codes, bob_codes) = (amy.recovery_codes.clone(), bob.recovery_codes.clone());
    let (amy_session, bob_session) = (amy.session.clone(), bob.session.clone());
    let statuses = flood(apps, 20, 20, None, move |i| {
        let (session, code, target) = if i % 2 == 0 {
            (&amy_session, &amy_codes[i / 2], "bob")
        } else {
            (&bob_session, &bob_codes[i / 2], "amy")
        };
        let body = json!({"recovery_code": code}).to_string();
        req(
            "DELETE",
            &format!("/api/v1/admin/users/{target}/groups/admins"),
            Some(("application/json", body)),
            Some(session),
            CLIENT,
        )
    })
    .await;
    let remaining = admins(app).await;
    assert_eq!(remaining.len(), 1, "{remaining:?} after {statuses:?}");
    // One removal happened (and was audited); every other request found its target no
    // longer an administrator (200, nothing changed), was refused as the last one's
    // removal (409), or came from the one no longer an administrator (404).
    let removals: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE event = 'admin_group_removed'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(removals, 1, "{statuses:?}");
    assert!(
        statuses.keys().all(|s| [200, 404, 409].contains(s)),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn the_last_administrator_stays_on_sqlite() {
    the_last_administrator_stays(&[&TestApp::sqlite().await]).await;
}

#[tokio::test]
async fn the_last_administrator_stays_across_two_instances_on_postgres() {
    let Some(db) = PgDb::create("the last administrator across two PostgreSQL instances").await
    else {
        return;
    };
    let (a, b) = two_instances(&db).await;
    the_last_administrator_stays(&[&a, &b]).await;
}

#[tokio::test]
async fn the_audit_log_pages_filters_and_exports_every_event_streamed_on_sqlite() {
    the_audit_log_pages_filters_and_exports_every_event_streamed(TestApp::sqlite().await).await;
}

#[tokio::test]
async fn the_audit_log_pages_filters_and_exports_every_event_streamed_on_postgres() {
    let Some(db) = PgDb::create("the admin audit log on PostgreSQL").await else {
        return;
    };
    let (app, _other) = two_instances(&db).await;
    the_audit_log_pages_filters_and_exports_every_event_streamed(app).await;
}

async fn the_audit_log_pages_filters_and_exports_every_event_streamed(app: TestApp) {
    let root = admin(&app, "root").await;
    register(&app, "carol", 1, None).await;
    // 2,500 events about carol, from two addresses, one of them a formula for spreadsheets.
    let start = app.clock.now() - 10_000;
    let mut tx = app.db.begin().await.unwrap();
    for i in 0..2500_i64 {
        let detail = if i == 1234 {
            "=HYPERLINK(\"https://evil.example\",\"x\")"
        } else {
            "ordinary"
        };
        sqlx::query("INSERT INTO audit_events (at, event, user_id, subject, client_addr, detail) SELECT $1, 'logged_in', id, username, $2, $3 FROM users WHERE username = 'carol'")
            .bind(start + i)
            .bind(if i % 2 == 0 { "192.0.2.1" } else { "192.0.2.2" })
            .bind(detail)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let get = |path: String| {
        let session = root.session.clone();
        let app = &app;
        async move { call(app, "GET", &path, None, Some(&session)).await }
    };
    // Pages, newest first, by keyset.
    let first = get("/api/v1/admin/audit?user=carol&event=logged_in&limit=500".into()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let events = first.json()["events"].as_array().unwrap().clone();
    assert_eq!(events.len(), 500);
    assert_eq!(events[0]["at"], start + 2499);
    let next = first.json()["next"].as_i64().unwrap();
    let second = get(format!(
        "/api/v1/admin/audit?user=carol&event=logged_in&limit=500&before={next}"
    ))
    .await;
    assert_eq!(second.json()["events"][0]["at"], start + 1999);
    let by_client = get("/api/v1/admin/audit?client=192.0.2.2&limit=500".into()).await;
    assert!(
        by_client.json()["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["client_addr"] == "192.0.2.2")
    );
    let window = get(format!(
        "/api/v1/admin/audit?since={}&until={}",
        start + 10,
        start + 19
    ))
    .await;
    assert_eq!(window.json()["events"].as_array().unwrap().len(), 10);
    let nobody = get("/api/v1/admin/audit?user=nobody".into()).await;
    assert_eq!(nobody.json()["events"], json!([]));
    for (query, field) in [
        ("?event=Logged-In", "event"),
        ("?client=not-an-address", "client"),
        ("?limit=0", "limit"),
        ("?limit=501", "limit"),
        ("?since=yesterday", "since"),
        ("?user=a&user=b", "user"),
        ("?user=%0Aforged%20line", "user"),
        ("?order=asc", "order"),
        ("?format=csv", "format"),
    ] {
        let reply = get(format!("/api/v1/admin/audit{query}")).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{query}: {}",
            reply.body
        );
        let named = reply.json()["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(named.is_empty() || named == field, "{query}: {named}");
    }

    // The export: every selected event once, across its batches, newest first.
    let lines = get("/api/v1/admin/audit/export?user=carol&event=logged_in".into()).await;
    assert_eq!(lines.status, StatusCode::OK);
    assert_eq!(lines.headers["content-type"], "application/x-ndjson");
    assert!(
        lines.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let ats: Vec<i64> = lines
        .body
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["at"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(ats.len(), 2500);
    assert!(
        ats.windows(2).all(|w| w[0] == w[1] + 1),
        "each once, in order"
    );
    let csv = get("/api/v1/admin/audit/export?format=csv&user=carol&event=logged_in".into()).await;
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    let rows: Vec<&str> = csv.body.lines().collect();
    assert_eq!(rows.len(), 2501);
    assert_eq!(rows[0], "id,at,event,subject,client_addr,detail");
    let formula = rows.iter().find(|r| r.contains("HYPERLINK")).unwrap();
    assert!(
        formula.contains(",\"'=HYPERLINK("),
        "a spreadsheet would run it: {formula}"
    );
    let bad = get("/api/v1/admin/audit/export?format=xlsx".into()).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    // Exporting is itself audited.
    let exports: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE event = 'admin_audit_exported'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(exports, 2);
}
