//! API tokens: shown once, stored as a hash, accepted only by `/api/v1/me` and the
//! forward-auth endpoints, revocable and expiring on the spot, created only with a recent
//! password, and at most 50 per user even with 64 creations in flight.

use http::StatusCode;
use serde_json::json;

use super::concurrency::flood;
use super::postgres::two_instances;
use super::support::*;
use super::test_database::TestDatabase as PgDb;

async fn signed_in(app: &TestApp) -> String {
    let reply = app.register("heidi", "heidi@example.com", STRONG).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    app.login("heidi", STRONG).await
}

async fn create(app: &TestApp, session: &str, body: serde_json::Value) -> Reply {
    app.json("POST", "/api/v1/tokens", Some(body), Some(session))
        .await
}

/// (That the forward-auth endpoints take it too: `forward_auth::flow`.)
#[tokio::test]
async fn a_token_reaches_me_and_nothing_else() {
    let app = TestApp::sqlite().await;
    let session = signed_in(&app).await;
    let reply = create(
        &app,
        &session,
        json!({"name": "ci deploy", "expires_in_days": 30}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let created = reply.json();
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(
        token.starts_with("palisade_at_") && token.len() == 12 + 43,
        "{token}"
    );
    assert_eq!(created["name"], "ci deploy");
    assert_eq!(
        created["expires_at"].as_i64(),
        Some(app.clock.now() + 30 * 86_400)
    );
    assert_eq!(reply.headers.get("cache-control").unwrap(), "no-store");

    // Shown once: the list, the database and the audit trail never hold it.
    let list = app
        .json("GET", "/api/v1/tokens", None, Some(&session))
        .await;
    assert_eq!(list.json()[0]["name"], "ci deploy");
    assert!(!list.body.contains(&token[12..]), "{}", list.body);
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM api_tokens")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].contains(&token[12..]) && stored[0].len() == 64);

    let me = app.json("GET", "/api/v1/me", None, Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.json()["username"], "heidi");
    let used = app
        .json("GET", "/api/v1/tokens", None, Some(&session))
        .await;
    assert_eq!(
        used.json()[0]["last_used_at"].as_i64(),
        Some(app.clock.now())
    );

    // Everything else refuses it: it cannot mint tokens, read sessions or the vault, or
    // change the password.
    for (method, path, body) in [
        ("GET", "/api/v1/tokens", None),
        ("POST", "/api/v1/tokens", Some(json!({"name": "more"}))),
        ("GET", "/api/v1/sessions", None),
        ("GET", "/api/v1/secrets", None),
        (
            "POST",
            "/api/v1/password",
            Some(
                json!({"current_password": STRONG, "new_password": "another long passphrase here"}),
            ),
        ),
        ("POST", "/api/v1/logout", None),
    ] {
        let reply = app.json(method, path, body, Some(&token)).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {}",
            reply.body
        );
    }
    // A session token with the prefix glued on is not an API token.
    let forged = format!("palisade_at_{session}");
    assert_eq!(
        app.json("GET", "/api/v1/me", None, Some(&forged))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    // Revoked: refused by the very next request.
    let id = created["id"].as_str().unwrap();
    let gone = app
        .json(
            "DELETE",
            &format!("/api/v1/tokens/{id}"),
            None,
            Some(&session),
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.json("GET", "/api/v1/me", None, Some(&token))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let again = app
        .json(
            "DELETE",
            &format!("/api/v1/tokens/{id}"),
            None,
            Some(&session),
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn tokens_expire_to_the_second_and_die_with_a_disabled_account() {
    let app = TestApp::sqlite().await;
    let session = signed_in(&app).await;
    let reply = create(
        &app,
        &session,
        json!({"name": "short", "expires_in_days": 1}),
    )
    .await;
    let token = reply.json()["token"].as_str().unwrap().to_owned();
    app.clock.advance(86_399);
    assert_eq!(
        app.json("GET", "/api/v1/me", None, Some(&token))
            .await
            .status,
        StatusCode::OK
    );
    app.clock.advance(1);
    assert_eq!(
        app.json("GET", "/api/v1/me", None, Some(&token))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    let session = app.login("heidi", STRONG).await;
    let reply = create(&app, &session, json!({"name": "forever"})).await;
    assert_eq!(reply.json()["expires_at"], serde_json::Value::Null);
    let token = reply.json()["token"].as_str().unwrap().to_owned();
    let admin = palisade_service::admin::Admin::open(&app.config)
        .await
        .unwrap();
    admin.disable("heidi").await.unwrap();
    assert_eq!(
        app.json("GET", "/api/v1/me", None, Some(&token))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

/// The attack: someone holding a session (stolen, or a shared computer) mints a token; the
/// owner notices and changes the password. The other sessions end — and so must the token,
/// or it would keep the intruder in (on `other` too, an instance sharing the database).
async fn a_password_change_revokes_every_token(app: &TestApp, other: &TestApp) {
    let session = signed_in(app).await;
    let mut tokens = Vec::new();
    for name in ["intruder", "ci"] {
        let reply = create(app, &session, json!({"name": name})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        tokens.push(reply.json()["token"].as_str().unwrap().to_owned());
    }
    for token in &tokens {
        let me = app.json("GET", "/api/v1/me", None, Some(token)).await;
        assert_eq!(me.status, StatusCode::OK);
    }
    let changed = app
        .json(
            "POST",
            "/api/v1/password",
            Some(json!({"current_password": STRONG, "new_password": "quartz lantern meadow oboe"})),
            Some(&session),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    for token in &tokens {
        for instance in [app, other] {
            let me = instance.json("GET", "/api/v1/me", None, Some(token)).await;
            assert_eq!(
                me.status,
                StatusCode::UNAUTHORIZED,
                "a token outlived the password"
            );
        }
    }
    let session = changed.json()["token"].as_str().unwrap().to_owned();
    let list = app
        .json("GET", "/api/v1/tokens", None, Some(&session))
        .await;
    assert_eq!(list.json(), json!([]));
    let detail: String =
        sqlx::query_scalar("SELECT detail FROM audit_events WHERE event = 'password_changed'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(detail.contains("revoked 2 API tokens"), "{detail}");
}

#[tokio::test]
async fn a_password_change_revokes_every_token_on_sqlite() {
    let app = TestApp::sqlite().await;
    a_password_change_revokes_every_token(&app, &app).await;
}

#[tokio::test]
async fn a_password_change_revokes_every_token_on_postgres() {
    let Some(db) = PgDb::create("a_password_change_revokes_every_token_on_postgres").await else {
        return;
    };
    let (a, b) = two_instances(&db).await;
    a_password_change_revokes_every_token(&a, &b).await;
}

#[tokio::test]
async fn bad_requests_name_the_field_and_change_nothing() {
    let app = TestApp::sqlite().await;
    let session = signed_in(&app).await;
    for (body, status, field) in [
        (
            json!({"name": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        ),
        (
            json!({"name": "x".repeat(65)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        ),
        (
            json!({"name": "bad\nname"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        ),
        (
            json!({"name": "ok", "expires_in_days": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "expires_in_days",
        ),
        (
            json!({"name": "ok", "expires_in_days": 367}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "expires_in_days",
        ),
    ] {
        let reply = create(&app, &session, body.clone()).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
        assert_eq!(reply.json()["field"], field, "{body}");
    }
    assert_eq!(
        create(&app, &session, json!({"name": "deploy"}))
            .await
            .status,
        StatusCode::CREATED
    );
    let twice = create(&app, &session, json!({"name": "deploy"})).await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert_eq!(twice.json()["field"], "name");
    let list = app
        .json("GET", "/api/v1/tokens", None, Some(&session))
        .await;
    assert_eq!(list.json().as_array().unwrap().len(), 1);
}

/// After the re-authentication window, a token costs the password again (a stolen
/// session cookie alone cannot mint a long-lived credential).
#[tokio::test]
async fn an_old_session_needs_the_password_to_create_one() {
    let app = TestApp::sqlite().await;
    let session = signed_in(&app).await;
    app.clock.advance(app.config.reauth_minutes as i64 * 60 + 1);
    let reply = create(&app, &session, json!({"name": "late"})).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(
        reply.json()["type"],
        "urn:palisade:problem:reauthentication-required"
    );
    let wrong = create(
        &app,
        &session,
        json!({"name": "late", "password": "not the password"}),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let list = app
        .json("GET", "/api/v1/tokens", None, Some(&session))
        .await;
    assert_eq!(
        list.json().as_array().unwrap().len(),
        0,
        "nothing was created"
    );
    let right = create(&app, &session, json!({"name": "late", "password": STRONG})).await;
    assert_eq!(right.status, StatusCode::CREATED, "{}", right.body);
    let renewed = right.json()["session_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.json("GET", "/api/v1/tokens", None, Some(&renewed))
            .await
            .status,
        StatusCode::OK
    );
}

/// 64 creations in flight (from many addresses, on every instance) for one user: exactly
/// 50 tokens exist afterwards — the limit is checked and the token inserted under one lock.
async fn the_limit_holds_under_concurrency(apps: &[&TestApp]) {
    let app = apps[0];
    let session = signed_in(app).await;
    let statuses = flood(apps, 120, 64, None, move |i| {
        let body = json!({"name": format!("token {i}")}).to_string();
        req(
            "POST",
            "/api/v1/tokens",
            Some(("application/json", body)),
            Some(&session),
            &format!("127.0.{}.{}:40000", i / 200, 1 + i % 200),
        )
    })
    .await;
    eprintln!("120 token creations, 64 in flight: {statuses:?}");
    assert_eq!(statuses.get(&201), Some(&50), "{statuses:?}");
    assert_eq!(statuses.get(&409), Some(&70), "{statuses:?}");
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limit_holds_under_concurrency_on_sqlite() {
    the_limit_holds_under_concurrency(&[&TestApp::sqlite().await]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limit_holds_under_concurrency_across_two_instances_on_postgres() {
    let Some(db) = PgDb::create("API token limit on two PostgreSQL instances").await else {
        return;
    };
    let (a, b) = two_instances(&db).await;
    the_limit_holds_under_concurrency(&[&a, &b]).await;
    drop((a, b));
    db.drop_db().await;
}

/// The account page: create (token shown once, page not cached), list, revoke; a forged
/// form token changes nothing.
#[tokio::test]
async fn the_tokens_page_creates_lists_and_revokes() {
    let app = TestApp::sqlite().await;
    app.register("ivan", "ivan@example.com", STRONG).await;
    let login = app
        .send(form(
            "/login",
            &[("identifier", "ivan"), ("password", STRONG)],
            None,
            "127.0.0.1:5",
        ))
        .await;
    let cookie = login.cookie().unwrap();
    let account = app.send(page_get("/account", Some(&cookie))).await;
    assert!(account.body.contains("href=\"/account/tokens\""));
    let page = app.send(page_get("/account/tokens", Some(&cookie))).await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = form_token(&page.body);
    let forged = app
        .send(form(
            "/account/tokens",
            &[("csrf", "forged"), ("name", "x"), ("expires_in_days", "")],
            Some(&cookie),
            "127.0.0.1:5",
        ))
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let bad = app
        .send(form(
            "/account/tokens",
            &[("csrf", &csrf), ("name", "x"), ("expires_in_days", "soon")],
            Some(&cookie),
            "127.0.0.1:5",
        ))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("aria-invalid"), "{}", bad.body);
    let created = app
        .send(form(
            "/account/tokens",
            &[
                ("csrf", &csrf),
                ("name", "backup <job>"),
                ("expires_in_days", ""),
            ],
            Some(&cookie),
            "127.0.0.1:5",
        ))
        .await;
    assert_eq!(
        created.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "'<' is not allowed in a name"
    );
    let created = app
        .send(form(
            "/account/tokens",
            &[
                ("csrf", &csrf),
                ("name", "backup job"),
                ("expires_in_days", "30"),
            ],
            Some(&cookie),
            "127.0.0.1:5",
        ))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.headers.get("cache-control").unwrap(), "no-store");
    let token = created
        .body
        .split("<pre id=\"new-token\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    assert!(token.starts_with("palisade_at_"));
    assert_eq!(
        app.json("GET", "/api/v1/me", None, Some(&token))
            .await
            .status,
        StatusCode::OK
    );
    // Listed without the token.
    let page = app.send(page_get("/account/tokens", Some(&cookie))).await;
    assert!(page.body.contains("backup job") && !page.body.contains(&token));
    let id = page
        .body
        .split("action=\"/account/tokens/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let revoked = app
        .send(form(
            &format!("/account/tokens/{id}/revoke"),
            &[("csrf", &csrf)],
            Some(&cookie),
            "127.0.0.1:5",
        ))
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert!(revoked.body.contains("Revoked"));
    assert_eq!(
        app.json("GET", "/api/v1/me", None, Some(&token))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

/// A token skips the second step, so it follows the second factor: only a session that
/// passed one may make a token for a user who has one, and support's factor reset revokes
/// the user's tokens with their factors.
#[tokio::test]
async fn tokens_follow_the_second_factor() {
    let app = TestApp::sqlite().await;
    // A session begun with the password alone, before the user added a factor elsewhere.
    assert_eq!(
        app.register("ivan", "ivan@example.com", STRONG)
            .await
            .status,
        StatusCode::CREATED
    );
    let before = app.login("ivan", STRONG).await;
    let user = super::second_factor::enrolled_existing(&app, "ivan").await;
    let refused = create(&app, &before, json!({"name": "ci"})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(
        refused.json()["type"],
        "urn:palisade:problem:second-factor-required",
        "{}",
        refused.body
    );
    let made = create(&app, &user.session, json!({"name": "ci"})).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let token = made.json()["token"].as_str().unwrap().to_owned();
    let me = app.json("GET", "/api/v1/me", None, Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    // Support resets the factors (the phone was lost — or stolen, with the token's
    // laptop): the token goes too.
    let admin = palisade_service::admin::Admin::open(&app.config)
        .await
        .unwrap();
    assert_eq!(admin.reset_second_factors("ivan").await.unwrap(), 1);
    app.changed_elsewhere().await;
    let me = app.json("GET", "/api/v1/me", None, Some(&token)).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{}", me.body);
}

/// Under `require_second_factor`, a token whose user no longer has a second factor (they
/// removed their last one) reaches nothing until they add one again.
#[tokio::test]
async fn under_require_second_factor_a_token_needs_its_user_to_have_a_factor() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), None);
    config.require_second_factor = true;
    let app = TestApp::with_config(config, dir).await;
    let user = super::second_factor::enrolled(&app, "judy").await;
    let made = create(&app, &user.session, json!({"name": "ci"})).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let token = made.json()["token"].as_str().unwrap().to_owned();
    let me = app.json("GET", "/api/v1/me", None, Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    let listed = app
        .json("GET", "/api/v1/mfa", None, Some(&user.session))
        .await;
    let id = listed.json()["factors"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.clock.advance(30);
    let code = user.secret_code(app.clock.now());
    let removed = app
        .json(
            "DELETE",
            &format!("/api/v1/mfa/{id}"),
            Some(json!({ "code": code })),
            Some(&user.session),
        )
        .await;
    assert!(removed.status.is_success(), "{}", removed.body);
    let me = app.json("GET", "/api/v1/me", None, Some(&token)).await;
    assert_eq!(me.status, StatusCode::FORBIDDEN, "{}", me.body);
    assert_eq!(
        me.json()["type"],
        "urn:palisade:problem:second-factor-enrolment-required",
        "{}",
        me.body
    );
}
