//! The vault: sealed at rest, bound to owner and name, re-keyed online.

use http::StatusCode;
use palisade::secret::{FernetKey, Keyring};
use serde_json::json;

use super::support::*;

const MARKER: &str = "PLAINTEXT-MARKER-db-password-7c1e";

async fn user(app: &TestApp, name: &str) -> String {
    app.register(name, &format!("{name}@example.com"), STRONG)
        .await;
    app.login(name, STRONG).await
}

#[tokio::test]
async fn store_list_reveal_delete_and_reauth() {
    let app = TestApp::sqlite().await;
    let token = user(&app, "vera").await;
    let put = app
        .json(
            "PUT",
            "/api/v1/secrets/db.password",
            Some(json!({"value": MARKER})),
            Some(&token),
        )
        .await;
    assert_eq!(put.status, StatusCode::NO_CONTENT, "{}", put.body);
    let list = app.json("GET", "/api/v1/secrets", None, Some(&token)).await;
    assert_eq!(list.json()[0]["name"], "db.password");
    assert!(!list.body.contains(MARKER));
    let shown = app
        .json(
            "POST",
            "/api/v1/secrets/db.password/reveal",
            None,
            Some(&token),
        )
        .await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.json()["value"], MARKER);
    assert_eq!(shown.headers.get("cache-control").unwrap(), "no-store");
    // A stale password entry: the password is asked again, and the token renewed.
    sqlx::query("UPDATE sessions SET last_auth_at = last_auth_at - 600")
        .execute(&app.db)
        .await
        .unwrap();
    app.changed_elsewhere().await;
    let refused = app
        .json(
            "POST",
            "/api/v1/secrets/db.password/reveal",
            None,
            Some(&token),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.json()["field"], "password");
    assert!(!refused.body.contains(MARKER));
    let wrong = app
        .json(
            "POST",
            "/api/v1/secrets/db.password/reveal",
            Some(json!({"password": "not my password"})),
            Some(&token),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let ok = app
        .json(
            "POST",
            "/api/v1/secrets/db.password/reveal",
            Some(json!({"password": STRONG})),
            Some(&token),
        )
        .await;
    assert_eq!(ok.json()["value"], MARKER);
    let renewed = ok.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.json("GET", "/api/v1/secrets", None, Some(&token))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // Bad names and oversized values are refused, naming the field.
    let bad = app
        .json(
            "PUT",
            "/api/v1/secrets/..%2Fetc",
            Some(json!({"value": "x"})),
            Some(&renewed),
        )
        .await;
    assert!(bad.status.is_client_error());
    let big = app
        .json(
            "PUT",
            "/api/v1/secrets/big",
            Some(json!({"value": "x".repeat(20_000)})),
            Some(&renewed),
        )
        .await;
    assert_eq!(big.json()["field"], "value");
    assert_eq!(
        app.json(
            "DELETE",
            "/api/v1/secrets/db.password",
            None,
            Some(&renewed)
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.json(
            "POST",
            "/api/v1/secrets/db.password/reveal",
            None,
            Some(&renewed)
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert!(app.audit_events_named("secret_revealed").await.unwrap() >= 2);
    assert_eq!(
        app.audit_events_named("secret_access_refused")
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn the_database_file_holds_no_plaintext() {
    let app = TestApp::sqlite().await;
    let token = user(&app, "walt").await;
    for i in 0..5 {
        let put = app
            .json(
                "PUT",
                &format!("/api/v1/secrets/s{i}"),
                Some(json!({"value": format!("{MARKER}-{i}")})),
                Some(&token),
            )
            .await;
        assert_eq!(put.status, StatusCode::NO_CONTENT);
    }
    let mut dump = Vec::new();
    for file in ["palisade.db", "palisade.db-wal"] {
        if let Ok(bytes) = std::fs::read(app.config.data_dir.join(file)) {
            dump.extend(bytes);
        }
    }
    assert!(dump.len() > 10_000);
    assert!(
        !dump.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()),
        "plaintext found in the database files"
    );
    // Sanity: the marker is findable when present (the check can fail).
    assert!(
        format!("x{MARKER}-0")
            .as_bytes()
            .windows(MARKER.len())
            .any(|w| w == MARKER.as_bytes())
    );
}

#[tokio::test]
async fn tampered_or_moved_rows_are_refused_not_garbled() {
    let app = TestApp::sqlite().await;
    let alice = user(&app, "alice").await;
    let bob = user(&app, "bobby").await;
    app.json(
        "PUT",
        "/api/v1/secrets/api",
        Some(json!({"value": MARKER})),
        Some(&alice),
    )
    .await;
    app.json(
        "PUT",
        "/api/v1/secrets/api",
        Some(json!({"value": "bob's own"})),
        Some(&bob),
    )
    .await;
    let pool = &app.db;
    // Copy Alice's sealed value onto Bob's row: it must not open for Bob.
    sqlx::query("UPDATE secrets SET sealed = (SELECT sealed FROM secrets s WHERE s.owner_id = 1 AND s.name = 'api') WHERE owner_id = 2")
        .execute(pool)
        .await
        .unwrap();
    let swapped = app
        .json("POST", "/api/v1/secrets/api/reveal", None, Some(&bob))
        .await;
    assert_eq!(swapped.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!swapped.body.contains(MARKER));
    // Flip one character of Alice's stored value.
    let sealed: String = sqlx::query_scalar("SELECT sealed FROM secrets WHERE owner_id = 1")
        .fetch_one(pool)
        .await
        .unwrap();
    let mut chars: Vec<char> = sealed.chars().collect();
    let last = chars.len() - 5;
    chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
    sqlx::query("UPDATE secrets SET sealed = $1 WHERE owner_id = 1")
        .bind(chars.into_iter().collect::<String>())
        .execute(pool)
        .await
        .unwrap();
    let tampered = app
        .json("POST", "/api/v1/secrets/api/reveal", None, Some(&alice))
        .await;
    assert_eq!(tampered.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!tampered.body.contains(MARKER));
    assert_eq!(
        app.audit_events_named("secret_unreadable").await.unwrap(),
        2,
        "reported"
    );
}

#[tokio::test]
async fn reencryption_interrupted_and_resumed_loses_nothing() {
    let app = TestApp::sqlite().await;
    let token = user(&app, "rita").await;
    for i in 0..10 {
        app.json(
            "PUT",
            &format!("/api/v1/secrets/k{i:02}"),
            Some(json!({"value": format!("value {i}")})),
            Some(&token),
        )
        .await;
    }
    // The registrations' messages go first (queued mail holds its key until sent).
    app.service.send_due_mail().await.unwrap();
    // Rotate: a new first key in the key file, the old one kept.
    let path = app.config.data_dir.join("keys");
    let old = Keyring::from_file(&path).unwrap();
    let old_id = old.keys()[0].id();
    let text = |k: &FernetKey| {
        k.encode()
            .expose(|v| String::from_utf8(v.to_vec()).unwrap())
    };
    let new_key = FernetKey::generate().unwrap();
    let new_id = new_key.id();
    let contents = format!("{}\n{}\n", text(&new_key), text(&old.keys()[0]));
    write_private(&path, contents.as_bytes()).unwrap();
    let ring = Keyring::from_file(&path).unwrap();
    // Interrupted after two batches of three.
    let admin = palisade_service::admin::Admin::open(&app.config)
        .await
        .unwrap();
    let done = admin.reencrypt(3, Some(2), &mut |_, _| {}).await.unwrap();
    assert_eq!((done.done, done.failed.len()), (6, 0));
    let rows = || async {
        sqlx::query_as::<_, (i64, String, String)>("SELECT owner_id, name, sealed FROM secrets")
            .fetch_all(&app.db)
            .await
            .unwrap()
    };
    for (owner, name, sealed) in rows().await {
        assert!(
            ring.open(&sealed, &aad(owner, &name)).is_ok(),
            "{name} unreadable mid-way"
        );
    }
    let per_key = app.secrets_per_key().await.unwrap();
    assert_eq!(per_key.iter().find(|(k, _)| *k == new_id).unwrap().1, 6);
    // Retiring the old key is refused while secrets still need it.
    let refused = admin.retire_key(&old_id).await.unwrap();
    assert_eq!(refused, palisade_service::admin::Retired::StillNeeded(4));
    assert_eq!(
        Keyring::from_file(&path).unwrap().keys().len(),
        2,
        "the key file is unchanged"
    );
    // Resume: the rest moves; nothing is left on the old key.
    let done = admin.reencrypt(3, None, &mut |_, _| {}).await.unwrap();
    assert_eq!(done.done, 4);
    let per_key = app.secrets_per_key().await.unwrap();
    assert_eq!(per_key, vec![(new_id.clone(), 10)]);
    let retired = admin.retire_key(&old_id).await.unwrap();
    assert_eq!(retired, palisade_service::admin::Retired::Done);
    assert_eq!(Keyring::from_file(&path).unwrap().keys().len(), 1);
    // Without the old key every value still opens; with only the old key none does.
    let only_new = Keyring::new(vec![FernetKey::parse(&text(&ring.keys()[0])).unwrap()]).unwrap();
    let only_old = Keyring::new(vec![FernetKey::parse(&text(&ring.keys()[1])).unwrap()]).unwrap();
    assert_eq!(only_old.keys()[0].id(), old_id);
    for (owner, name, sealed) in rows().await {
        let value = only_new.open(&sealed, &aad(owner, &name)).unwrap();
        assert!(value.expose(|v| v.starts_with(b"value ")));
        assert!(
            only_old.open(&sealed, &aad(owner, &name)).is_err(),
            "a retired key cannot decrypt"
        );
    }
}

#[tokio::test]
async fn the_vault_page_stores_reveals_escaped_and_deletes() {
    let app = TestApp::sqlite().await;
    app.register("pia", "pia@example.com", STRONG).await;
    let login = app
        .send(form(
            "/login",
            &[("identifier", "pia"), ("password", STRONG)],
            None,
            "127.0.0.1:5",
        ))
        .await;
    let cookie = login.cookie().unwrap();
    let page = app.send(page_get("/account/secrets", Some(&cookie))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers.get("cache-control").unwrap(), "no-store");
    let csrf = form_token(&page.body);
    let value = "<script>alert(1)</script>";
    let stored = app
        .send(form(
            "/account/secrets",
            &[("csrf", &csrf), ("name", "xss"), ("value", value)],
            Some(&cookie),
            "127.0.0.1:5",
        ))
        .await;
    assert_eq!(stored.status, StatusCode::OK);
    assert!(stored.body.contains("Stored.") && !stored.body.contains(value));
    let forged = app
        .send(form(
            "/account/secrets",
            &[("csrf", "forged"), ("name", "x"), ("value", "y")],
            Some(&cookie),
            "127.0.0.1:5",
        ))
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let shown = app
        .send(form(
            "/account/secrets/xss/reveal",
            &[("csrf", &csrf), ("password", "")],
            Some(&cookie),
            "127.0.0.1:5",
        ))
        .await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(
        shown.body.contains("&#60;script&#62;") || shown.body.contains("&lt;script&gt;"),
        "{}",
        shown.body
    );
    assert!(!shown.body.contains(value), "revealed values are escaped");
    let gone = app
        .send(form(
            "/account/secrets/xss/delete",
            &[("csrf", &csrf)],
            Some(&cookie),
            "127.0.0.1:5",
        ))
        .await;
    assert!(gone.body.contains("Deleted."));
    assert!(app.secret_names(1).await.unwrap().is_empty());
}
