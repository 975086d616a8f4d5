//! The admin API's actions on one account (end one session, revoke a token, reset the
//! factors, mail a reset link, clear the throttle, move the address, delete), each
//! audited and mailed where it changes how the owner signs in; and API tokens with the
//! `admin` scope: made only by an administrator with a fresh second factor, they reach
//! the admin API while their owner administers, never for changes to who administers.

use http::StatusCode;
use serde_json::{Value, json};

use super::second_factor::{Enrolled, enrolled, enrolled_existing};
use super::support::{STRONG, TestApp, req};

const CLIENT: &str = "203.0.113.77:4000";

async fn admin(app: &TestApp, name: &str) -> Enrolled {
    let enrolled = enrolled(app, name).await;
    sqlx::query("INSERT INTO user_groups (user_id, name) SELECT id, 'admins' FROM users WHERE username = $1")
        .bind(name)
        .execute(&app.db)
        .await
        .unwrap();
    enrolled
}

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<Value>,
    token: &str,
) -> super::support::Reply {
    let body = body.map(|b| ("application/json", b.to_string()));
    app.send(req(method, path, body, Some(token), CLIENT)).await
}

async fn mail_to(app: &TestApp, kind: &str, to: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE kind = $1 AND recipient = $2")
        .bind(kind)
        .bind(to)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

async fn audited(app: &TestApp, event: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT detail FROM audit_events WHERE event = $1 ORDER BY id")
        .bind(event)
        .fetch_all(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn each_action_does_its_one_thing_is_audited_and_tells_the_owner() {
    let app = TestApp::sqlite().await;
    let root = admin(&app, "root").await;
    assert_eq!(
        app.register("carol", "carol@example.com", STRONG)
            .await
            .status,
        StatusCode::CREATED
    );
    // A session from before her second factor, and the one that added it.
    let other = app.login("carol", STRONG).await;
    let carol = enrolled_existing(&app, "carol").await;
    let token = call(
        &app,
        "POST",
        "/api/v1/tokens",
        Some(json!({"name": "ci"})),
        &carol.session,
    )
    .await;
    let token = token.json()["token"].as_str().unwrap().to_owned();
    let detail = call(
        &app,
        "GET",
        "/api/v1/admin/users/carol",
        None,
        &root.session,
    )
    .await;
    let sessions = detail.json()["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2);
    // End one session: that one only.
    let other_id = app.session_id(&other, true).await;
    let ended = call(
        &app,
        "POST",
        &format!("/api/v1/admin/users/carol/sessions/{other_id}/end"),
        None,
        &root.session,
    )
    .await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.body);
    assert_eq!(ended.json()["sessions_ended"], 1);
    let me = |t: &str| {
        let t = t.to_owned();
        let app = &app;
        async move { app.json("GET", "/api/v1/me", None, Some(&t)).await.status }
    };
    assert_eq!(me(&other).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&carol.session).await, StatusCode::OK);
    // A session of someone else's, named under her: nothing.
    let root_session = app.session_id(&root.session, true).await;
    let wrong = call(
        &app,
        "POST",
        &format!("/api/v1/admin/users/carol/sessions/{root_session}/end"),
        None,
        &root.session,
    )
    .await;
    assert_eq!(wrong.json()["changed"], false);
    assert_eq!(me(&root.session).await, StatusCode::OK);
    // Revoke her token by name.
    let revoked = call(
        &app,
        "DELETE",
        "/api/v1/admin/users/carol/api-tokens/ci",
        None,
        &root.session,
    )
    .await;
    assert_eq!(revoked.json()["changed"], true, "{}", revoked.body);
    assert_eq!(me(&token).await, StatusCode::UNAUTHORIZED);
    // A reset link is mailed to her; the answer holds no link.
    let link = call(
        &app,
        "POST",
        "/api/v1/admin/users/carol/reset-link",
        None,
        &root.session,
    )
    .await;
    assert_eq!(link.status, StatusCode::OK, "{}", link.body);
    assert!(!link.body.contains("token") || link.json()["token"].is_null());
    assert!(!link.body.contains("/reset"));
    assert_eq!(
        mail_to(&app, "password_reset", "carol@example.com").await,
        1
    );
    // The address moves only when she opens the link sent to the new one; the old is told.
    let moved = call(
        &app,
        "POST",
        "/api/v1/admin/users/carol/address",
        Some(json!({"new_email": "carol@new.example"})),
        &root.session,
    )
    .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert_eq!(
        mail_to(&app, "confirm_new_email", "carol@new.example").await,
        1
    );
    assert_eq!(
        mail_to(&app, "email_change_requested", "carol@example.com").await,
        1
    );
    let email: String = sqlx::query_scalar("SELECT email FROM users WHERE username = 'carol'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(email, "carol@example.com");
    let bad = call(
        &app,
        "POST",
        "/api/v1/admin/users/carol/address",
        Some(json!({"new_email": "not an address"})),
        &root.session,
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert_eq!(bad.json()["field"], "new_email");
    // Locked out by someone guessing from one address: unlocking lets her in from it.
    let guesser = "198.51.100.99:1";
    let mut throttled = false;
    for _ in 0..40 {
        if app
            .login_from("carol", "wrong password guess", guesser)
            .await
            .status
            == StatusCode::TOO_MANY_REQUESTS
        {
            throttled = true;
            break;
        }
    }
    assert!(throttled, "the guesses are throttled");
    assert_eq!(
        app.login_from("carol", STRONG, guesser).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    async fn counted(app: &TestApp, session: &str) -> Vec<String> {
        let found = call(
            app,
            "GET",
            "/api/v1/admin/users?throttled=true",
            None,
            session,
        )
        .await;
        found.json()["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_owned())
            .collect()
    }
    // (root's wrong first code at enrolment counts too.)
    assert!(
        counted(&app, &root.session)
            .await
            .contains(&"carol".to_owned()),
        "the search finds whom guesses were counted against"
    );
    let detail = call(
        &app,
        "GET",
        "/api/v1/admin/users/carol",
        None,
        &root.session,
    )
    .await;
    assert!(detail.json()["failed_sign_ins"].as_i64().unwrap() >= 1);
    let unlocked = call(
        &app,
        "POST",
        "/api/v1/admin/users/carol/unlock",
        None,
        &root.session,
    )
    .await;
    assert_eq!(unlocked.status, StatusCode::OK, "{}", unlocked.body);
    assert!(
        !counted(&app, &root.session)
            .await
            .contains(&"carol".to_owned()),
        "unlocked: counted no more"
    );
    assert_ne!(
        app.login_from("carol", STRONG, guesser).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Reset her factors: gone, her sessions too, and she is told.
    let reset = call(
        &app,
        "POST",
        "/api/v1/admin/users/carol/reset-second-factors",
        None,
        &root.session,
    )
    .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    assert_eq!(me(&carol.session).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        mail_to(&app, "second_factors_reset", "carol@example.com").await,
        1
    );
    // Disabling tells her too.
    let disabled = call(
        &app,
        "POST",
        "/api/v1/admin/users/carol/disable",
        None,
        &root.session,
    )
    .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.body);
    assert_eq!(
        mail_to(&app, "account_disabled", "carol@example.com").await,
        1
    );
    // Every one of them audited, by whom.
    for event in [
        "admin_session_ended",
        "admin_token_revoked",
        "admin_reset_link_mailed",
        "admin_address_change_mailed",
        "admin_user_unlocked",
        "admin_second_factors_reset",
        "admin_user_disabled",
    ] {
        let details = audited(&app, event).await;
        assert_eq!(details.len(), 1, "{event}");
        assert!(
            details[0].starts_with("by root (id "),
            "{event}: {details:?}"
        );
    }
    // The groups' list.
    let groups = call(&app, "GET", "/api/v1/admin/groups", None, &root.session).await;
    assert_eq!(
        groups.json()["groups"],
        json!([{"name": "admins", "members": 1}])
    );
    // Deleting: not oneself; someone else, once.
    let own = call(
        &app,
        "DELETE",
        "/api/v1/admin/users/root",
        None,
        &root.session,
    )
    .await;
    assert_eq!(own.status, StatusCode::CONFLICT, "{}", own.body);
    let deleted = call(
        &app,
        "DELETE",
        "/api/v1/admin/users/carol",
        None,
        &root.session,
    )
    .await;
    assert_eq!(deleted.json()["changed"], true, "{}", deleted.body);
    let again = call(
        &app,
        "DELETE",
        "/api/v1/admin/users/carol",
        None,
        &root.session,
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(
        mail_to(&app, "account_deleted", "carol@example.com").await,
        1
    );
}

#[tokio::test]
async fn changes_to_another_administrator_need_a_fresh_second_factor() {
    let app = TestApp::sqlite().await;
    let root = admin(&app, "root").await;
    let _ops = admin(&app, "ops").await;
    for (method, path) in [
        ("POST", "/api/v1/admin/users/ops/reset-second-factors"),
        ("POST", "/api/v1/admin/users/ops/disable"),
        ("POST", "/api/v1/admin/users/ops/end-sessions"),
        ("DELETE", "/api/v1/admin/users/ops"),
    ] {
        let refused = call(&app, method, path, None, &root.session).await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{path}: {}",
            refused.body
        );
        assert_eq!(refused.json()["field"], "code", "{path}");
    }
    let factors: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM second_factors f JOIN users u ON u.id = f.user_id WHERE u.username = 'ops'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(factors, 1, "nothing changed");
    let reset = call(
        &app,
        "POST",
        "/api/v1/admin/users/ops/reset-second-factors",
        Some(json!({"recovery_code": root.recovery_codes[0]})),
        &root.session,
    )
    .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
}

#[tokio::test]
async fn an_admin_scoped_token_reaches_the_admin_api_while_its_owner_administers() {
    let app = TestApp::sqlite().await;
    let root = admin(&app, "root").await;
    let _ops = admin(&app, "ops").await;
    let dave = enrolled(&app, "dave").await;
    assert_eq!(
        app.register("carol", "carol@example.com", STRONG)
            .await
            .status,
        StatusCode::CREATED
    );
    // Not an administrator: refused, whatever the proofs.
    let refused = call(
        &app,
        "POST",
        "/api/v1/tokens",
        Some(json!({"name": "x", "scope": "admin", "recovery_code": dave.recovery_codes[0]})),
        &dave.session,
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    // An administrator without a fresh second factor: refused.
    let refused = call(
        &app,
        "POST",
        "/api/v1/tokens",
        Some(json!({"name": "ops", "scope": "admin"})),
        &root.session,
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(refused.json()["field"], "code");
    let unknown = call(
        &app,
        "POST",
        "/api/v1/tokens",
        Some(json!({"name": "ops", "scope": "root"})),
        &root.session,
    )
    .await;
    assert_eq!(
        unknown.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        unknown.body
    );
    let made = call(
        &app,
        "POST",
        "/api/v1/tokens",
        Some(json!({"name": "ops", "scope": "admin", "recovery_code": root.recovery_codes[0]})),
        &root.session,
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!(made.json()["scope"], "admin");
    let token = made.json()["token"].as_str().unwrap().to_owned();
    // It reads and makes ordinary changes, without a password.
    let listed = call(&app, "GET", "/api/v1/admin/users", None, &token).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let disabled = call(
        &app,
        "POST",
        "/api/v1/admin/users/carol/disable",
        None,
        &token,
    )
    .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.body);
    let detail: String =
        sqlx::query_scalar("SELECT detail FROM audit_events WHERE event = 'admin_user_disabled'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(detail.starts_with("by root (id "), "{detail}");
    // Never who administers, nor another administrator's account.
    for (method, path) in [
        ("PUT", "/api/v1/admin/users/carol/groups/admins"),
        ("DELETE", "/api/v1/admin/users/ops/groups/admins"),
        ("POST", "/api/v1/admin/users/ops/reset-second-factors"),
    ] {
        let refused = call(
            &app,
            method,
            path,
            Some(json!({"recovery_code": root.recovery_codes[1]})),
            &token,
        )
        .await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{path}: {}",
            refused.body
        );
    }
    let admins: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM user_groups WHERE name = 'admins'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(admins, 2);
    // Not the console's pages (a bearer token is no browser session).
    let page = app
        .send(req("GET", "/admin", None, Some(&token), CLIENT))
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    // Once root no longer administers, the token meets the same 404 as anyone.
    sqlx::query("DELETE FROM user_groups WHERE name = 'admins' AND user_id = (SELECT id FROM users WHERE username = 'root')")
        .execute(&app.db)
        .await
        .unwrap();
    app.changed_elsewhere().await;
    let gone = call(&app, "GET", "/api/v1/admin/users", None, &token).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    // It still is an ordinary token.
    assert_eq!(
        app.json("GET", "/api/v1/me", None, Some(&token))
            .await
            .status,
        StatusCode::OK
    );
}
