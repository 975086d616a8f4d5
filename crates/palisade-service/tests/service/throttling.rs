//! Online guessing is slowed without locking the owner out.

use http::StatusCode;

use super::support::*;

/// Ten thousand wrong passwords for one account from one address.
pub(crate) async fn one_account_one_address(app: &TestApp) {
    app.register("victim", "victim@example.com", STRONG).await;
    let before = app.hashes();
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..10_000 {
        let reply = app
            .login_from("victim", &format!("guess number {i}"), "203.0.113.5:4000")
            .await;
        *statuses.entry(reply.status.as_u16()).or_insert(0) += 1;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            assert!(reply.headers.contains_key("retry-after"));
        }
    }
    let hashed = app.hashes() - before;
    eprintln!("10,000 guesses, one account, one address: {hashed} hashed; statuses {statuses:?}");
    assert!(hashed <= 50, "{hashed} hashed");
    assert!(statuses[&429] >= 9_950);
    // The owner, from elsewhere, is not locked out.
    let reply = app.login_from("victim", STRONG, "198.51.100.77:5000").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

/// One wrong password each for a thousand accounts from one address.
pub(crate) async fn many_accounts_one_address(app: &TestApp) {
    let pool = &app.db;
    for i in 0..1000 {
        let name = format!("user{i:04}");
        sqlx::query("INSERT INTO users (username, email, email_key, password_hash, disabled, created_at, password_changed_at) VALUES ($1, $2, $2, $3, 0, 0, 0)")
            .bind(&name)
            .bind(format!("{name}@example.com"))
            .bind("$2b$04$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm")
            .execute(pool)
            .await
            .unwrap();
    }
    let before = app.hashes();
    let mut throttled = 0;
    for i in 0..1000 {
        let reply = app
            .login_from(
                &format!("user{i:04}"),
                "password spray 2024",
                "203.0.113.9:4000",
            )
            .await;
        throttled += usize::from(reply.status == StatusCode::TOO_MANY_REQUESTS);
    }
    let hashed = app.hashes() - before;
    eprintln!(
        "1,000 accounts, one guess each, one address: {hashed} hashed, {throttled} refused before hashing"
    );
    assert!(hashed <= 50, "{hashed} hashed");
    assert_eq!(throttled as u64 + hashed, 1000);
}

#[tokio::test]
async fn ten_thousand_guesses_at_one_account_on_sqlite() {
    one_account_one_address(&TestApp::sqlite().await).await;
}

#[tokio::test]
async fn a_password_spray_from_one_address_on_sqlite() {
    many_accounts_one_address(&TestApp::sqlite().await).await;
}

#[tokio::test]
async fn per_address_delays_grow_and_unknown_names_count_alike() {
    let app = TestApp::sqlite().await;
    app.register("known", "known@example.com", STRONG).await;
    for name in ["known", "unknown-name"] {
        let client = if name == "known" {
            "192.0.2.1:1"
        } else {
            "192.0.2.2:1"
        };
        let mut first_throttle = None;
        for attempt in 1..=8 {
            let reply = app.login_from(name, "wrong guess again", client).await;
            if reply.status == StatusCode::TOO_MANY_REQUESTS && first_throttle.is_none() {
                first_throttle = Some(attempt);
            }
        }
        assert_eq!(
            first_throttle,
            Some(6),
            "{name}: five free failures, then a delay"
        );
    }
    // IPv6 neighbours in one /64 share a rate.
    let mut last = StatusCode::OK;
    for i in 0..60 {
        last = app
            .login_from("nobody", "x", &format!("[2001:db8:7:7::{:x}]:1", i + 1))
            .await
            .status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn registrations_from_one_address_are_rate_limited_before_any_costly_check() {
    let app = TestApp::sqlite().await;
    let before = app.hashes();
    let mut throttled = 0;
    for i in 0..60 {
        let body = serde_json::json!({"username": format!("flood{i}"), "email": format!("flood{i}@example.com"), "password": format!("correct horse battery {i} staple")});
        let reply = app
            .send(req(
                "POST",
                "/api/v1/register",
                Some(("application/json", body.to_string())),
                None,
                "198.51.100.3:1",
            ))
            .await;
        throttled += usize::from(reply.status == StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(throttled, 10, "50 registrations per address per window");
    assert_eq!(app.hashes() - before, 50);
}
