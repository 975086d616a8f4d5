//! Sign-up by mailed link (`signup_by_link`): the attack was registering with someone's
//! address and reading 409 — the address has an account. Now every sign-up with a free
//! username gets the same 202, the account is made only by the mailed link, the owner of
//! a taken address is told instead, and the username (which cannot be hidden) is refused
//! alike whatever the address. Single-use and reservation are tested with 64 in flight, on
//! SQLite and across two PostgreSQL instances.

use http::StatusCode;
use serde_json::json;

use super::concurrency::flood;
use super::mail::{deliver, one};
use super::postgres::two_instances_with;
use super::support::*;
use super::test_database::TestDatabase as PgDb;

async fn by_link(database_url: Option<String>) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), database_url);
    config.signup_by_link = Some(true);
    TestApp::with_config(config, dir).await
}

const OTHER_STRONG: &str = "tangerine lighthouse gravel oboe";

#[tokio::test]
async fn a_sign_up_does_not_tell_whether_its_address_has_an_account() {
    let app = by_link(None).await;
    // The owner of owner@example.com signed up earlier, by the link.
    let first = app.register("owner", "owner@example.com", STRONG).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
    let mail = deliver(&app, &[]).await;
    let link = one(&mail, "owner@example.com", "Finish signing up").token();
    // Opening the link changes nothing (mail scanners open links)...
    let page = app
        .send(page_get(&format!("/register/confirm?token={link}"), None))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("owner@example.com"), "{}", page.body);
    assert_eq!(
        app.login_from("owner", STRONG, "127.0.0.9:1").await.status,
        StatusCode::UNAUTHORIZED
    );
    // ...the button (here, the API) makes the account, its address proven, once.
    let made = app
        .json(
            "POST",
            "/api/v1/register/confirm",
            Some(json!({ "token": link })),
            None,
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let again = app
        .json(
            "POST",
            "/api/v1/register/confirm",
            Some(json!({ "token": link })),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);
    let login = app.login_from("owner", STRONG, "127.0.0.9:1").await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);

    // The attack: sign up with a taken address, and with a free one. The answers are the
    // same, byte for byte.
    let before = deliver(&app, &[]).await;
    let taken = app
        .register("mallory1", "Owner@Example.com", OTHER_STRONG)
        .await;
    let free = app
        .register("mallory2", "fresh@example.com", OTHER_STRONG)
        .await;
    assert_eq!(taken.status, StatusCode::ACCEPTED, "{}", taken.body);
    assert_eq!((taken.status, &taken.body), (free.status, &free.body));
    // The taken address's owner is told; the free address gets a link; nobody else.
    let mail = deliver(&app, &before).await;
    assert_eq!(mail.len(), 2, "{mail:#?}");
    let notice = one(&mail, "owner@example.com", "Someone tried to sign up");
    assert!(notice.text.contains("owner") && notice.text.contains("No account was made"));
    one(&mail, "fresh@example.com", "Finish signing up");
    // No account was made for either: both sign-ins fail alike.
    for name in ["mallory1", "mallory2"] {
        let login = app.login_from(name, OTHER_STRONG, "127.0.0.9:2").await;
        assert_eq!(login.status, StatusCode::UNAUTHORIZED, "{name}");
    }
    // The username is reserved alike: asking again for either tells nothing new.
    for (name, email) in [
        ("mallory1", "x1@example.com"),
        ("mallory2", "x2@example.com"),
    ] {
        let reply = app.register(name, email, OTHER_STRONG).await;
        assert_eq!(reply.status, StatusCode::CONFLICT, "{name}: {}", reply.body);
        assert_eq!(reply.json()["field"], "username");
    }
    // Two sign-ups for one new address: the first link used makes the account; the
    // second finds the address taken (its holder owns the address: nothing is revealed).
    let before = deliver(&app, &[]).await;
    for name in ["twin1", "twin2"] {
        let reply = app.register(name, "twins@example.com", OTHER_STRONG).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    }
    let mail = deliver(&app, &before).await;
    let links: Vec<String> = mail
        .iter()
        .filter(|m| m.to == "twins@example.com")
        .map(|m| m.token())
        .collect();
    assert_eq!(links.len(), 2, "{mail:#?}");
    let confirm = |token: &str| {
        app.json(
            "POST",
            "/api/v1/register/confirm",
            Some(json!({ "token": token })),
            None,
        )
    };
    assert_eq!(confirm(&links[0]).await.status, StatusCode::CREATED);
    let late = confirm(&links[1]).await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.body);
    assert_eq!(late.json()["field"], "email", "{}", late.body);
    // The page says the same to both, too.
    for (name, email) in [
        ("page1", "owner@example.com"),
        ("page2", "new2@example.com"),
    ] {
        let form = format!(
            "username={name}&email={}&display_name=&password={}",
            email.replace('@', "%40"),
            OTHER_STRONG.replace(' ', "+")
        );
        let reply = app
            .send(req(
                "POST",
                "/register",
                Some(("application/x-www-form-urlencoded", form)),
                None,
                "127.0.0.9:3",
            ))
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
        assert!(
            reply.body.contains("If this address can be used"),
            "{}",
            reply.body
        );
    }
}

#[tokio::test]
async fn with_smtp_configured_sign_up_goes_by_link_unless_told_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), None);
    assert!(
        !config.signs_up_by_link(),
        "no SMTP: immediate (development)"
    );
    config.smtp_host = Some("mail.example.com".into());
    assert!(config.signs_up_by_link());
    config.signup_by_link = Some(false);
    assert!(!config.signs_up_by_link());
}

/// 64 sign-ups for one username in flight, from 64 addresses and emails: one reserves it,
/// 63 are refused; 64 uses of its link in flight: one account.
async fn one_username_one_sign_up_one_account(apps: &[&TestApp]) {
    let app = apps[0];
    let statuses = flood(apps, 64, 64, None, |i| {
        let body = json!({
            "username": "contested",
            "email": format!("c{i}@example.com"),
            "password": STRONG,
        });
        req(
            "POST",
            "/api/v1/register",
            Some(("application/json", body.to_string())),
            None,
            &format!("127.0.{}.{}:40000", 80 + i / 200, 1 + i % 200),
        )
    })
    .await;
    eprintln!("64 sign-ups for one username: {statuses:?}");
    assert_eq!(statuses.get(&202), Some(&1), "{statuses:?}");
    assert_eq!(statuses.get(&409), Some(&63), "{statuses:?}");
    // The sign-up's message is queued behind the answer, by whichever instance took it.
    for instance in apps {
        instance.service.settle().await;
    }
    let mail = deliver(app, &[]).await;
    assert_eq!(mail.len(), 1, "{mail:#?}");
    let token = mail[0].token();
    let statuses = flood(apps, 64, 64, None, move |i| {
        req(
            "POST",
            "/api/v1/register/confirm",
            Some(("application/json", json!({ "token": token }).to_string())),
            None,
            &format!("127.0.{}.{}:40000", 90 + i / 200, 1 + i % 200),
        )
    })
    .await;
    eprintln!("64 uses of one sign-up link: {statuses:?}");
    assert_eq!(statuses.get(&201), Some(&1), "{statuses:?}");
    assert_eq!(statuses.get(&400), Some(&63), "{statuses:?}");
    let count =
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users WHERE username = 'contested'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_username_one_sign_up_one_account_on_sqlite() {
    one_username_one_sign_up_one_account(&[&by_link(None).await]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_username_one_sign_up_one_account_across_two_instances_on_postgres() {
    let Some(db) = PgDb::create("sign-up by link on two PostgreSQL instances").await else {
        return;
    };
    let (a, b) = two_instances_with(&db, |c| c.signup_by_link = Some(true)).await;
    one_username_one_sign_up_one_account(&[&a, &b]).await;
    drop((a, b));
    db.drop_db().await;
}
