//! People's own data. The export holds everything about the account and no secret; a
//! deletion needs the password and the second factor, leaves no row about the user but
//! anonymised audit events, tells the apps and the address, keeps the username from reuse
//! for the configured time — and happens once with 64 requests in flight, on SQLite and
//! across two PostgreSQL instances.

use http::StatusCode;
use serde_json::{Value, json};

use super::concurrency::flood;
use super::postgres::two_instances;
use super::second_factor::{Enrolled, enrolled};
use super::support::{STRONG, TestApp, form, form_token, page_get, req};
use super::test_database::TestDatabase as PgDb;

const MARKER: &str = "vault-value-that-must-never-leave";

/// Rows about a user left in every table with a `user_id` column, per table: none may keep
/// a row about a deleted user.
const LEFT_ABOUT_USER: &str = "SELECT 'sessions', COUNT(*) FROM sessions WHERE user_id = $1 \
    UNION ALL SELECT 'user_groups', COUNT(*) FROM user_groups WHERE user_id = $1 \
    UNION ALL SELECT 'api_tokens', COUNT(*) FROM api_tokens WHERE user_id = $1 \
    UNION ALL SELECT 'second_factors', COUNT(*) FROM second_factors WHERE user_id = $1 \
    UNION ALL SELECT 'recovery_codes', COUNT(*) FROM recovery_codes WHERE user_id = $1 \
    UNION ALL SELECT 'pending_logins', COUNT(*) FROM pending_logins WHERE user_id = $1 \
    UNION ALL SELECT 'webauthn_challenges', COUNT(*) FROM webauthn_challenges WHERE user_id = $1 \
    UNION ALL SELECT 'password_resets', COUNT(*) FROM password_resets WHERE user_id = $1 \
    UNION ALL SELECT 'email_tokens', COUNT(*) FROM email_tokens WHERE user_id = $1 \
    UNION ALL SELECT 'known_browsers', COUNT(*) FROM known_browsers WHERE user_id = $1 \
    UNION ALL SELECT 'oidc_subjects', COUNT(*) FROM oidc_subjects WHERE user_id = $1 \
    UNION ALL SELECT 'oidc_consents', COUNT(*) FROM oidc_consents WHERE user_id = $1 \
    UNION ALL SELECT 'oidc_grants', COUNT(*) FROM oidc_grants WHERE user_id = $1 \
    UNION ALL SELECT 'outbox', COUNT(*) FROM outbox WHERE user_id = $1 \
    UNION ALL SELECT 'secrets', COUNT(*) FROM secrets WHERE owner_id = $1 \
    UNION ALL SELECT 'users', COUNT(*) FROM users WHERE id = $1";

/// A user with everything: an authenticator app, recovery codes, an API token, a vault
/// secret, a group.
async fn full_user(app: &TestApp, name: &str) -> (Enrolled, String) {
    let user = enrolled(app, name).await;
    let token = app
        .json(
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": "ci"})),
            Some(&user.session),
        )
        .await;
    assert_eq!(token.status, StatusCode::CREATED, "{}", token.body);
    let token = token.json()["token"].as_str().unwrap().to_owned();
    let put = app
        .json(
            "PUT",
            "/api/v1/secrets/db.password",
            Some(json!({"value": MARKER})),
            Some(&user.session),
        )
        .await;
    assert_eq!(put.status, StatusCode::NO_CONTENT, "{}", put.body);
    sqlx::query(
        "INSERT INTO user_groups (user_id, name) SELECT id, 'staff' FROM users WHERE username = $1",
    )
    .bind(name)
    .execute(&app.db)
    .await
    .unwrap();
    (user, token)
}

async fn user_id(app: &TestApp, name: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(name)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_export_holds_everything_about_the_account_and_no_secret() {
    let app = TestApp::sqlite().await;
    let (amy, token) = full_user(&app, "amy").await;
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE username = 'amy'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let reply = app
        .json("GET", "/api/v1/account/export", None, Some(&amy.session))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(
        reply.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("amy-data.json")
    );
    assert_eq!(reply.headers["cache-control"], "no-store");
    let doc = reply.json();
    assert_eq!(doc["profile"]["username"], "amy");
    assert_eq!(doc["profile"]["email"], "amy@example.com");
    assert_eq!(doc["second_factors"][0]["name"], "phone");
    assert_eq!(doc["recovery_codes_left"], 10);
    assert_eq!(doc["groups"], json!(["staff"]));
    assert_eq!(doc["api_tokens"][0]["name"], "ci");
    assert_eq!(doc["vault_secrets"][0]["name"], "db.password");
    assert!(!doc["sessions"].as_array().unwrap().is_empty());
    let events: Vec<&str> = doc["audit_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert!(events.contains(&"registered"), "{events:?}");
    assert_eq!(doc["audit_events_truncated"], false);
    // No secret, in any form.
    let base32 = amy.secret.to_base32().expose(str::to_owned);
    for secret in [
        MARKER,
        token.as_str(),
        hash.as_str(),
        base32.as_str(),
        amy.session.as_str(),
        STRONG,
    ]
    .into_iter()
    .chain(amy.recovery_codes.iter().map(String::as_str))
    {
        assert!(!reply.body.contains(secret), "the export holds a secret");
    }
    // Anonymous: 401; another user's session exports their own account only.
    let anonymous = app.json("GET", "/api/v1/account/export", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    // From the account page, the same document as a download.
    let page = app
        .send(page_get("/account/export", Some(&amy.session)))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&page.body).unwrap()["profile"]["username"],
        "amy"
    );
}

#[tokio::test]
async fn deleting_an_account_needs_its_password_and_second_factor_and_leaves_no_row_about_it() {
    let app = TestApp::sqlite().await;
    let (amy, token) = full_user(&app, "amy").await;
    let id = user_id(&app, "amy").await;
    let delete = |body: Value| {
        let session = amy.session.clone();
        let app = &app;
        async move {
            app.json("DELETE", "/api/v1/account", Some(body), Some(&session))
                .await
        }
    };
    // Each proof missing or wrong: refused, nothing changed.
    let code = amy.secret_code(app.clock.now());
    for (body, status) in [
        (json!({}), StatusCode::FORBIDDEN),
        (json!({"code": code}), StatusCode::FORBIDDEN),
        (json!({"password": STRONG}), StatusCode::FORBIDDEN),
        (
            json!({"password": "not the password at all", "code": code}),
            StatusCode::FORBIDDEN,
        ),
        (
            json!({"password": STRONG, "code": "000000"}),
            StatusCode::FORBIDDEN,
        ),
    ] {
        let refused = delete(body.clone()).await;
        assert_eq!(refused.status, status, "{body}: {}", refused.body);
        assert_eq!(user_id(&app, "amy").await, id, "{body}");
    }
    app.clock.advance(30);
    let deleted = delete(json!({"password": STRONG, "recovery_code": amy.recovery_codes[0]})).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    assert!(deleted.headers.contains_key("clear-site-data"));
    let left: Vec<(String, i64)> = sqlx::query_as(LEFT_ABOUT_USER)
        .bind(id)
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(left.len(), 16);
    for (table, rows) in left {
        assert_eq!(rows, 0, "{table} keeps rows about the deleted user");
    }
    // The audit trail stays, without the name or what the events said.
    let (named, kept, detailed): (i64, i64, i64) = sqlx::query_as(
        "SELECT \
           COALESCE(SUM(CASE WHEN subject = 'amy' THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN user_id = $1 AND subject = $2 THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN user_id = $1 AND detail IS NOT NULL AND event <> 'account_deleted' THEN 1 ELSE 0 END), 0) \
         FROM audit_events",
    )
    .bind(id)
    .bind(format!("deleted-{id}"))
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(named, 0, "no event names the deleted user");
    assert!(kept >= 3, "the events stay under the opaque name ({kept})");
    assert_eq!(detailed, 0, "no event about them keeps its detail");
    assert_eq!(app.audit_events_named("account_deleted").await.unwrap(), 1);
    // The only mail for the address is the notice that the account is gone.
    let mail: Vec<String> =
        sqlx::query_scalar("SELECT kind FROM outbox WHERE recipient = 'amy@example.com'")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(mail, ["account_deleted"]);
    // Nothing of it works any more: the session, the token, the password.
    let me = app
        .json("GET", "/api/v1/me", None, Some(&amy.session))
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    let me = app.json("GET", "/api/v1/me", None, Some(&token)).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    let login = app.login_from("amy", STRONG, "198.51.100.7:1").await;
    assert_eq!(login.status, StatusCode::UNAUTHORIZED, "{}", login.body);
    // The username is reserved (365 days by default), the address is free at once.
    let again = app.register("amy", "amy2@example.com", STRONG).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    let address = app.register("amelia", "amy@example.com", STRONG).await;
    assert_eq!(address.status, StatusCode::CREATED, "{}", address.body);
    app.clock.advance(365 * 24 * 3600 + 1);
    let later = app.register("amy", "amy3@example.com", STRONG).await;
    assert_eq!(later.status, StatusCode::CREATED, "{}", later.body);
}

#[tokio::test]
async fn the_account_page_deletes_with_its_form_and_refuses_without_the_proofs() {
    let app = TestApp::sqlite().await;
    let amy = enrolled(&app, "amy").await;
    let page = app.send(page_get("/account", Some(&amy.session))).await;
    assert!(page.body.contains("Download my data"));
    let csrf = form_token(&page.body);
    let client = "198.51.100.20:1";
    // No second factor: the page again, saying why, and the account stays.
    let refused = app
        .send(form(
            "/account/delete",
            &[
                ("csrf", &csrf),
                ("delete_password", STRONG),
                ("delete_code", ""),
            ],
            Some(&amy.session),
            client,
        ))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(
        refused.body.contains("id=\"delete_code-error\""),
        "{}",
        refused.body
    );
    // Another session's form token: refused.
    let forged = app
        .send(form(
            "/account/delete",
            &[
                ("csrf", "forged"),
                ("delete_password", STRONG),
                ("delete_code", &amy.recovery_codes[0]),
            ],
            Some(&amy.session),
            client,
        ))
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(app.user_named("amy").await.id > 0);
    let done = app
        .send(form(
            "/account/delete",
            &[
                ("csrf", &csrf),
                ("delete_password", STRONG),
                ("delete_code", &amy.recovery_codes[1]),
            ],
            Some(&amy.session),
            client,
        ))
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.headers["location"], "/login?deleted=1");
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE username = 'amy'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 0);
    let login = app.send(page_get("/login?deleted=1", None)).await;
    assert!(login.body.contains("Your account is deleted"));
}

/// The owner and an administrator delete one account with 64 requests in flight over
/// `apps`: it is deleted once, audited once, mailed once; nothing answers 5xx.
async fn deleted_once(apps: &[&TestApp]) {
    let app = apps[0];
    let root = enrolled(app, "root").await;
    sqlx::query("INSERT INTO user_groups (user_id, name) SELECT id, 'admins' FROM users WHERE username = 'root'")
        .execute(&app.db)
        .await
        .unwrap();
    let (amy, _) = full_user(app, "amy").await;
    let codes = amy.recovery_codes.clone();
    let (amy_session, root_session) = (amy.session.clone(), root.session.clone());
    let statuses = flood(apps, 64, 64, None, move |i| {
        let client = format!("198.18.{}.{}:1", i / 200, i % 200 + 1);
        if i % 2 == 0 {
            let body = json!({"password": STRONG, "recovery_code": codes[(i / 2) % codes.len()]});
            req(
                "DELETE",
                "/api/v1/account",
                Some(("application/json", body.to_string())),
                Some(&amy_session),
                &client,
            )
        } else {
            req(
                "DELETE",
                "/api/v1/admin/users/amy",
                Some(("application/json", json!({"password": STRONG}).to_string())),
                Some(&root_session),
                &client,
            )
        }
    })
    .await;
    assert!(
        statuses.keys().all(|s| *s < 500),
        "no request may fail on the server: {statuses:?}"
    );
    let gone: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE username = 'amy'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(gone, 0, "{statuses:?}");
    let deletions: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE event IN ('account_deleted', 'admin_user_deleted')",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(deletions, 1, "deleted once: {statuses:?}");
    let notices: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE kind = 'account_deleted'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(notices, 1, "mailed once");
    let root_left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE username = 'root'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(root_left, 1);
}

#[tokio::test]
async fn an_account_is_deleted_once_with_64_requests_in_flight_on_sqlite() {
    let app = TestApp::sqlite().await;
    deleted_once(&[&app]).await;
}

#[tokio::test]
async fn an_account_is_deleted_once_with_64_requests_in_flight_across_two_postgresql_instances() {
    let Some(db) = PgDb::create("account deletion across two PostgreSQL instances").await else {
        return;
    };
    let (a, b) = two_instances(&db).await;
    deleted_once(&[&a, &b]).await;
    drop((a, b));
    db.drop_db().await;
}

/// Two administrators, the only two, each deleting their own account with every recovery
/// code in flight (64 requests over `apps`): one stays, and the last one is refused.
async fn the_last_administrator_stays(apps: &[&TestApp]) {
    let app = apps[0];
    let a = enrolled(app, "ada").await;
    let b = enrolled(app, "bea").await;
    sqlx::query("INSERT INTO user_groups (user_id, name) SELECT id, 'admins' FROM users WHERE username IN ('ada', 'bea')")
        .execute(&app.db)
        .await
        .unwrap();
    let sessions = [a.session.clone(), b.session.clone()];
    let codes = [a.recovery_codes.clone(), b.recovery_codes.clone()];
    let statuses = flood(apps, 64, 64, None, move |i| {
        let who = i % 2;
        let body = json!({"password": STRONG, "recovery_code": codes[who][(i / 2) % 10]});
        req(
            "DELETE",
            "/api/v1/account",
            Some(("application/json", body.to_string())),
            Some(&sessions[who]),
            &format!("198.18.9.{}:1", i + 1),
        )
    })
    .await;
    assert!(statuses.keys().all(|s| *s < 500), "{statuses:?}");
    let left: Vec<String> = sqlx::query_scalar(
        "SELECT u.username FROM users u JOIN user_groups g ON g.user_id = u.id WHERE g.name = 'admins'",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(left.len(), 1, "one administrator stays: {statuses:?}");
    assert_eq!(
        app.audit_events_named("account_deleted").await.unwrap(),
        1,
        "one deletion: {statuses:?}"
    );
    assert!(
        statuses.contains_key(&409),
        "the last one is refused: {statuses:?}"
    );
}

#[tokio::test]
async fn the_last_administrator_stays_with_64_deletions_in_flight_on_sqlite() {
    let app = TestApp::sqlite().await;
    the_last_administrator_stays(&[&app]).await;
}

#[tokio::test]
async fn the_last_administrator_stays_with_64_deletions_in_flight_across_two_postgresql_instances()
{
    let Some(db) =
        PgDb::create("the last administrator's deletion across two PostgreSQL instances").await
    else {
        return;
    };
    let (a, b) = two_instances(&db).await;
    the_last_administrator_stays(&[&a, &b]).await;
    drop((a, b));
    db.drop_db().await;
}
