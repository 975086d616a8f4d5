//! The OpenID provider's clients from the admin API and the console: every change needs an
//! administrator's session with a fresh second factor (never an API token); a new secret is
//! shown once and only its SHA-256 kept; settings are checked as the configuration file's
//! are; the configuration file's clients are listed, never changed here.

use http::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::second_factor::{Enrolled, enrolled};
use super::support::{TestApp, form, form_token, page_get, req};

const CLIENT: &str = "203.0.113.88:4000";

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

async fn stored_hash(app: &TestApp, id: &str) -> Option<String> {
    sqlx::query_scalar("SELECT secret_hash FROM oidc_clients WHERE id = $1")
        .bind(id)
        .fetch_optional(&app.db)
        .await
        .unwrap()
        .flatten()
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn clients_are_added_rotated_and_removed_with_a_fresh_second_factor() {
    let app = TestApp::sqlite().await;
    let root = admin(&app, "root").await;
    let wiki = json!({
        "id": "wiki",
        "name": "Team wiki",
        "redirect_uris": ["https://wiki.example.com/callback"],
        "subject": ["group:staff"],
    });
    let clients = "/api/v1/admin/oidc/clients";
    // Without a second factor: refused, nothing stored.
    let refused = call(
        &app,
        "POST",
        clients,
        Some(json!({"client": wiki})),
        &root.session,
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(refused.json()["field"], "code");
    // Settings checked as the configuration file's are.
    let mut bad = wiki.clone();
    bad["redirect_uris"] = json!(["javascript:alert(1)"]);
    let invalid = call(
        &app,
        "POST",
        clients,
        Some(json!({"client": bad, "recovery_code": root.recovery_codes[0]})),
        &root.session,
    )
    .await;
    assert_eq!(
        invalid.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        invalid.body
    );
    assert_eq!(invalid.json()["field"], "client");
    assert_eq!(stored_hash(&app, "wiki").await, None);
    let added = call(
        &app,
        "POST",
        clients,
        Some(json!({"client": wiki, "recovery_code": root.recovery_codes[1]})),
        &root.session,
    )
    .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let secret = added.json()["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(stored_hash(&app, "wiki").await, Some(sha256_hex(&secret)));
    // Listed without it.
    let listed = call(&app, "GET", clients, None, &root.session).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(!listed.body.contains(&secret));
    assert_eq!(listed.json()["clients"][0]["id"], "wiki");
    assert_eq!(listed.json()["clients"][0]["has_secret"], true);
    // A new secret: the old hash is gone.
    let rotated = call(
        &app,
        "POST",
        "/api/v1/admin/oidc/clients/wiki/rotate-secret",
        Some(json!({"recovery_code": root.recovery_codes[2]})),
        &root.session,
    )
    .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let fresh = rotated.json()["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(fresh, secret);
    assert_eq!(stored_hash(&app, "wiki").await, Some(sha256_hex(&fresh)));
    // An admin-scoped token may list, never change.
    let made = call(
        &app,
        "POST",
        "/api/v1/tokens",
        Some(json!({"name": "ops", "scope": "admin", "recovery_code": root.recovery_codes[3]})),
        &root.session,
    )
    .await;
    let token = made.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(
        call(&app, "GET", clients, None, &token).await.status,
        StatusCode::OK
    );
    let by_token = call(
        &app,
        "DELETE",
        "/api/v1/admin/oidc/clients/wiki",
        Some(json!({"recovery_code": root.recovery_codes[4]})),
        &token,
    )
    .await;
    assert_eq!(by_token.status, StatusCode::FORBIDDEN, "{}", by_token.body);
    assert!(stored_hash(&app, "wiki").await.is_some());
    let removed = call(
        &app,
        "DELETE",
        "/api/v1/admin/oidc/clients/wiki",
        Some(json!({"recovery_code": root.recovery_codes[5]})),
        &root.session,
    )
    .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    assert_eq!(stored_hash(&app, "wiki").await, None);
    let events: Vec<String> = sqlx::query_scalar(
        "SELECT event FROM audit_events WHERE event LIKE 'admin_oidc_client%' ORDER BY id",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(
        events,
        [
            "admin_oidc_client_added",
            "admin_oidc_client_secret_rotated",
            "admin_oidc_client_removed"
        ]
    );
}

#[tokio::test]
async fn the_console_adds_a_client_and_shows_its_secret_once() {
    let app = TestApp::sqlite().await;
    let root = admin(&app, "root").await;
    let page = app
        .send(page_get("/admin/clients", Some(&root.session)))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = form_token(&page.body);
    let fields = |code: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("code", code.to_owned()),
            ("id", "crm".to_owned()),
            ("name", "Sales <CRM>".to_owned()),
            ("kind", "confidential".to_owned()),
            ("redirect_uris", "https://crm.example.com/cb\n".to_owned()),
            ("post_logout_redirect_uris", String::new()),
            ("subject", "group:sales user:root".to_owned()),
            ("policy", "two_factor".to_owned()),
        ]
    };
    let send = |fields: Vec<(&'static str, String)>| {
        let session = root.session.clone();
        let app = &app;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.send(form("/admin/clients", &fields, Some(&session), CLIENT))
                .await
        }
    };
    let refused = send(fields("")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(stored_hash(&app, "crm").await.is_none());
    let added = send(fields(&root.recovery_codes[0])).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    assert_eq!(added.headers["cache-control"], "no-store");
    let secret = added
        .body
        .split("<pre id=\"client-secret\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the secret, shown once")
        .to_owned();
    assert_eq!(stored_hash(&app, "crm").await, Some(sha256_hex(&secret)));
    assert!(added.body.contains("Sales &#60;CRM&#62;") || added.body.contains("Sales &lt;CRM&gt;"));
    // Shown once: the list again does not hold it.
    let again = app
        .send(page_get("/admin/clients", Some(&root.session)))
        .await;
    assert!(!again.body.contains(&secret));
    assert!(
        again
            .body
            .contains("group:sales, user:root, with a second factor")
    );
    // A bad kind: refused, saying why.
    let mut wrong = fields(&root.recovery_codes[1]);
    wrong[4].1 = "trusted".into();
    wrong[2].1 = "crm2".into();
    let wrong = send(wrong).await;
    assert_eq!(
        wrong.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        wrong.body
    );
    assert!(wrong.body.contains("confidential or public"));
}
