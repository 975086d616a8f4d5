//! Second factors: enrolment, the login's second step, and the attacks on them — skipping
//! the step, replaying a code, guessing codes (64 in flight, on SQLite and across two
//! PostgreSQL instances), changing factors without the proofs.

use http::StatusCode;
use palisade::totp::{Totp, TotpSecret};
use serde_json::{Value, json};

use super::concurrency::flood;
use super::postgres::two_instances;
use super::support::{Reply, STRONG, TestApp, page_get, req};
use super::test_database::TestDatabase as PgDb;

/// A user with an authenticator app, as the tests drive it.
pub(crate) struct Enrolled {
    pub(crate) session: String,
    pub(crate) secret: TotpSecret,
    pub(crate) recovery_codes: Vec<String>,
}

impl Enrolled {
    /// The user's app's code at `unix`.
    pub(crate) fn secret_code(&self, unix: i64) -> String {
        code_at(&self.secret, unix)
    }
}

fn code_at(secret: &TotpSecret, unix: i64) -> String {
    let totp = Totp::default();
    totp.code(secret, totp.step_at(unix as u64))
        .expose(str::to_owned)
}

async fn post(app: &TestApp, path: &str, body: Value, token: Option<&str>) -> Reply {
    app.json("POST", path, Some(body), token).await
}

/// Registers `name`, signs in, adds an authenticator app and confirms it.
pub(crate) async fn enrolled(app: &TestApp, name: &str) -> Enrolled {
    let email = format!("{name}@example.com");
    assert_eq!(
        app.register(name, &email, STRONG).await.status,
        StatusCode::CREATED
    );
    enrolled_existing(app, name).await
}

/// Signs the registered `name` in, adds an authenticator app and confirms it.
pub(crate) async fn enrolled_existing(app: &TestApp, name: &str) -> Enrolled {
    let session = app.login(name, STRONG).await;
    let added = post(
        app,
        "/api/v1/mfa/totp",
        json!({"name": "phone"}),
        Some(&session),
    )
    .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let view = added.json();
    let secret = TotpSecret::from_base32(view["secret"].as_str().unwrap()).unwrap();
    assert!(view["uri"].as_str().unwrap().starts_with("otpauth://totp/"));
    assert!(view["qr_svg"].as_str().unwrap().starts_with("<svg"));
    let id = view["id"].as_str().unwrap();
    let confirm = format!("/api/v1/mfa/totp/{id}/confirm");
    // A wrong first code confirms nothing.
    let right = code_at(&secret, app.clock.now());
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    let refused = post(app, &confirm, json!({"code": wrong}), Some(&session)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(refused.json()["field"], "code");
    let confirmed = post(app, &confirm, json!({"code": right}), Some(&session)).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    let codes: Vec<String> = confirmed.json()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    Enrolled {
        session,
        secret,
        recovery_codes: codes,
    }
}

/// Signs in with the password: the answer must be the pending login's (202).
pub(crate) async fn pending_login(app: &TestApp, name: &str, client: &str) -> String {
    let reply = app.login_from(name, STRONG, client).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert!(reply.json().get("user").is_none(), "{}", reply.body);
    let pending = reply.json()["token"].as_str().unwrap().to_owned();
    let cookie = reply
        .headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with(&format!("{}=", palisade_service::PENDING_LOGIN_COOKIE)))
        .expect("the pending login's cookie");
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("Secure")
            && cookie.contains("SameSite=Strict")
    );
    assert!(
        reply.cookie().is_none(),
        "no session cookie before the second step"
    );
    pending
}

pub(crate) fn second_step(
    pending: &str,
    body: Value,
    client: &str,
) -> http::Request<axum::body::Body> {
    req(
        "POST",
        "/api/v1/login/second-step",
        Some(("application/json", body.to_string())),
        Some(pending),
        client,
    )
}

#[tokio::test]
async fn enrol_then_sign_in_with_a_code_or_a_recovery_code_each_once() {
    let app = TestApp::sqlite().await;
    let user = enrolled(&app, "alice").await;
    assert_eq!(user.recovery_codes.len(), 10);
    for code in &user.recovery_codes {
        assert_eq!(code.len(), 19, "{code}");
        assert!(
            code.chars()
                .all(|c| c == '-' || "23456789abcdefghjkmnpqrstuvwxyz".contains(c))
        );
    }
    let listed = app
        .json("GET", "/api/v1/mfa", None, Some(&user.session))
        .await
        .json();
    assert_eq!(listed["factors"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["factors"][0]["kind"], "totp");
    assert_eq!(listed["recovery_codes_left"], 10);

    // The code that confirmed the app is spent: the next login needs a later step.
    let client = "127.0.0.1:40001";
    let pending = pending_login(&app, "alice", client).await;
    let now_code = code_at(&user.secret, app.clock.now());
    let replay = app
        .send(second_step(&pending, json!({"code": now_code}), client))
        .await;
    assert_eq!(replay.status, StatusCode::CONFLICT, "{}", replay.body);
    assert!(
        replay.json()["type"]
            .as_str()
            .unwrap()
            .ends_with(":code-already-used")
    );
    app.clock.advance(30);
    let code = code_at(&user.secret, app.clock.now());
    let done = app
        .send(second_step(&pending, json!({"code": code}), client))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let session = done.json()["token"].as_str().unwrap().to_owned();
    let me = app.json("GET", "/api/v1/me", None, Some(&session)).await;
    assert_eq!(me.json()["username"], "alice");
    // The pending login is gone with its use.
    let again = app
        .send(second_step(&pending, json!({"code": code}), client))
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "{}", again.body);

    // The same code on a new pending login, in the same step: a replay, refused (and told
    // apart from a wrong code: it is no guess).
    let pending = pending_login(&app, "alice", client).await;
    let replay = app
        .send(second_step(&pending, json!({"code": code}), client))
        .await;
    assert_eq!(replay.status, StatusCode::CONFLICT, "{}", replay.body);

    // A recovery code works once, typed with capitals and without dashes.
    let typed = user.recovery_codes[3].replace('-', "").to_uppercase();
    let done = app
        .send(second_step(
            &pending,
            json!({"recovery_code": typed}),
            client,
        ))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let pending = pending_login(&app, "alice", client).await;
    let used = app
        .send(second_step(
            &pending,
            json!({"recovery_code": typed}),
            client,
        ))
        .await;
    assert_eq!(used.status, StatusCode::FORBIDDEN, "{}", used.body);
    assert_eq!(used.json()["field"], "recovery_code");
    assert_eq!(
        app.audit_events_named("recovery_code_used").await.unwrap(),
        1
    );
    let listed = app
        .json("GET", "/api/v1/mfa", None, Some(&session))
        .await
        .json();
    assert_eq!(listed["recovery_codes_left"], 9);

    // Malformed input names its field and changes nothing.
    for (body, field) in [
        (json!({"code": "12345"}), "code"),
        (json!({"code": "abcdef"}), "code"),
        (json!({"recovery_code": "short"}), "recovery_code"),
        (
            json!({"code": "123456", "recovery_code": typed}),
            "recovery_code",
        ),
    ] {
        let reply = app.send(second_step(&pending, body, client)).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            reply.body
        );
        assert_eq!(reply.json()["field"], field, "{}", reply.body);
    }
}

/// The pending login reaches nothing: not `/me`, not the account page, not a password
/// change (the forward-auth endpoints: `forward_auth.rs`); and it expires after five
/// minutes.
#[tokio::test]
async fn the_pending_login_is_not_a_session_and_expires() {
    let app = TestApp::sqlite().await;
    let user = enrolled(&app, "bob").await;
    let client = "127.0.0.1:40002";
    let pending = pending_login(&app, "bob", client).await;
    let me = app.json("GET", "/api/v1/me", None, Some(&pending)).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{}", me.body);
    let sessions = app
        .json("GET", "/api/v1/sessions", None, Some(&pending))
        .await;
    assert_eq!(sessions.status, StatusCode::UNAUTHORIZED);
    let change = post(
        &app,
        "/api/v1/password",
        json!({"current_password": STRONG, "new_password": "another long pass phrase"}),
        Some(&pending),
    )
    .await;
    assert_eq!(change.status, StatusCode::UNAUTHORIZED, "{}", change.body);
    // As the browser holds it: the pending cookie, and no session cookie.
    let mut page = page_get("/account", None);
    page.headers_mut().insert(
        http::header::COOKIE,
        format!("{}={pending}", palisade_service::PENDING_LOGIN_COOKIE)
            .parse()
            .unwrap(),
    );
    let page = app.send(page).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(
        page.headers["location"]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );

    // Five minutes later, the right code is too late.
    app.clock.advance(301);
    let code = code_at(&user.secret, app.clock.now());
    let late = app
        .send(second_step(&pending, json!({"code": code}), client))
        .await;
    assert_eq!(late.status, StatusCode::UNAUTHORIZED, "{}", late.body);
    assert!(
        late.json()["type"]
            .as_str()
            .unwrap()
            .ends_with(":login-expired")
    );
    // A made-up pending token, or none, is the same.
    for token in [Some("0".repeat(64)), None] {
        let reply = app
            .send(req(
                "POST",
                "/api/v1/login/second-step",
                Some(("application/json", json!({"code": code}).to_string())),
                token.as_deref(),
                client,
            ))
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    }
}

/// A pending login takes five wrong codes; the sixth attempt needs the password again.
#[tokio::test]
async fn a_pending_login_takes_five_guesses() {
    let app = TestApp::sqlite().await;
    let user = enrolled(&app, "carol").await;
    let client = "127.0.0.1:40003";
    let pending = pending_login(&app, "carol", client).await;
    app.clock.advance(30);
    let right = code_at(&user.secret, app.clock.now());
    for n in 0..5 {
        let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 7 + n) % 1_000_000);
        let reply = app
            .send(second_step(&pending, json!({"code": wrong}), client))
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    }
    let reply = app
        .send(second_step(&pending, json!({"code": right}), client))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    assert_eq!(
        app.audit_events_named("second_factor_failed")
            .await
            .unwrap(),
        5
    );
}

/// 64 second steps in flight, each on its own pending login from its own address, all
/// with the same right code: exactly one signs in.
async fn a_code_signs_in_once(apps: &[&TestApp]) {
    let app = apps[0];
    let user = enrolled(app, "dave").await;
    let mut pendings = Vec::new();
    for i in 0..64 {
        let client = format!("127.0.{}.{}:40000", 10 + i / 200, 1 + i % 200);
        pendings.push((
            pending_login(apps[i % apps.len()], "dave", &client).await,
            client,
        ));
    }
    app.clock.advance(30);
    let code = code_at(&user.secret, app.clock.now());
    let statuses = flood(apps, 64, 64, None, move |i| {
        let (pending, client) = &pendings[i];
        second_step(pending, json!({"code": code}), client)
    })
    .await;
    eprintln!("one code, 64 second steps in flight: {statuses:?}");
    assert_eq!(statuses.get(&200), Some(&1), "{statuses:?}");
    // The others are told the code was just used (or, past the account's allowance, to
    // wait): a right code is no wrong guess.
    assert_eq!(
        statuses.get(&409).copied().unwrap_or(0) + statuses.get(&429).copied().unwrap_or(0),
        63,
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_signs_in_once_on_sqlite() {
    a_code_signs_in_once(&[&TestApp::sqlite().await]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_signs_in_once_across_two_instances_on_postgres() {
    let Some(db) = PgDb::create("TOTP replay on two PostgreSQL instances").await else {
        return;
    };
    let (a, b) = two_instances(&db).await;
    a_code_signs_in_once(&[&a, &b]).await;
    drop((a, b));
    db.drop_db().await;
}

/// 64 wrong codes in flight from 64 addresses, over 13 pending logins: the account's
/// hourly allowance lets exactly 10 be checked; the rest are refused unchecked, the right
/// code too, until the hour is over.
async fn guesses_are_bounded_per_account_per_hour(apps: &[&TestApp]) {
    let app = apps[0];
    let user = enrolled(app, "erin").await;
    let mut pendings = Vec::new();
    for i in 0..13 {
        let client = format!("127.0.20.{}:40000", 1 + i);
        pendings.push(pending_login(apps[i % apps.len()], "erin", &client).await);
    }
    app.clock.advance(30);
    let right = code_at(&user.secret, app.clock.now());
    let wrong: Vec<String> = (1..=64)
        .map(|n| {
            format!(
                "{:06}",
                (right.parse::<u32>().unwrap() + 1000 * n) % 1_000_000
            )
        })
        .collect();
    let from_pendings = pendings.clone();
    let statuses = flood(apps, 64, 64, None, move |i| {
        let client = format!("127.0.{}.{}:40000", 30 + i / 200, 1 + i % 200);
        second_step(&from_pendings[i % 13], json!({"code": wrong[i]}), &client)
    })
    .await;
    eprintln!("64 wrong codes in flight: {statuses:?}");
    assert_eq!(statuses.get(&403), Some(&10), "{statuses:?}");
    assert_eq!(statuses.get(&429), Some(&54), "{statuses:?}");
    assert_eq!(
        app.audit_events_named("second_factor_failed")
            .await
            .unwrap(),
        10
    );
    // The right code, within the hour: refused without being checked.
    let client = "127.0.21.1:40000";
    let fresh = pending_login(app, "erin", client).await;
    let refused = app
        .send(second_step(&fresh, json!({"code": right}), client))
        .await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.body
    );
    assert!(refused.headers.contains_key("retry-after"));
    // An hour on, it works.
    app.clock.advance(3600);
    let fresh = pending_login(app, "erin", client).await;
    let code = code_at(&user.secret, app.clock.now());
    let done = app
        .send(second_step(&fresh, json!({"code": code}), client))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_are_bounded_per_account_per_hour_on_sqlite() {
    guesses_are_bounded_per_account_per_hour(&[&TestApp::sqlite().await]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_are_bounded_per_account_per_hour_across_two_instances_on_postgres() {
    let Some(db) = PgDb::create("second-factor guesses on two PostgreSQL instances").await else {
        return;
    };
    let (a, b) = two_instances(&db).await;
    guesses_are_bounded_per_account_per_hour(&[&a, &b]).await;
    drop((a, b));
    db.drop_db().await;
}

/// With a factor enrolled, adding or removing one, or new recovery codes, needs a code
/// (and the password once its entry is stale); a stolen session alone changes nothing.
#[tokio::test]
async fn changing_factors_needs_the_factor_and_a_recent_password() {
    let app = TestApp::sqlite().await;
    let user = enrolled(&app, "frank").await;
    let s = &user.session;
    let listed = app.json("GET", "/api/v1/mfa", None, Some(s)).await.json();
    let id = listed["factors"][0]["id"].as_str().unwrap().to_owned();

    let add = post(&app, "/api/v1/mfa/totp", json!({"name": "tablet"}), Some(s)).await;
    assert_eq!(add.status, StatusCode::FORBIDDEN, "{}", add.body);
    assert_eq!(add.json()["field"], "code");
    let remove = app
        .json("DELETE", &format!("/api/v1/mfa/{id}"), None, Some(s))
        .await;
    assert_eq!(remove.status, StatusCode::FORBIDDEN, "{}", remove.body);
    let regenerate = post(&app, "/api/v1/mfa/recovery-codes", json!({}), Some(s)).await;
    assert_eq!(
        regenerate.status,
        StatusCode::FORBIDDEN,
        "{}",
        regenerate.body
    );
    // With a recovery code: a new set, and the old codes (that one included) are gone.
    let body = json!({"recovery_code": user.recovery_codes[0]});
    let regenerated = post(&app, "/api/v1/mfa/recovery-codes", body, Some(s)).await;
    assert_eq!(regenerated.status, StatusCode::OK, "{}", regenerated.body);
    let fresh = regenerated.json()["recovery_codes"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(fresh, 10);
    assert!(!regenerated.body.contains(&user.recovery_codes[1]));
    let client = "127.0.0.1:40015";
    let pending = pending_login(&app, "frank", client).await;
    let body = json!({"recovery_code": user.recovery_codes[1]});
    let replaced = app.send(second_step(&pending, body, client)).await;
    assert_eq!(replaced.status, StatusCode::FORBIDDEN, "{}", replaced.body);
    assert_eq!(
        app.audit_events_named("recovery_codes_replaced")
            .await
            .unwrap(),
        1
    );

    // Stale: the code alone is not enough, and is not used up by the refusal.
    app.clock.advance(16 * 60);
    let code = code_at(&user.secret, app.clock.now());
    let body = json!({"code": code});
    let stale = app
        .json("DELETE", &format!("/api/v1/mfa/{id}"), Some(body), Some(s))
        .await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN, "{}", stale.body);
    assert_eq!(stale.json()["field"], "password");
    let body = json!({"code": code, "password": STRONG});
    let removed = app
        .json("DELETE", &format!("/api/v1/mfa/{id}"), Some(body), Some(s))
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    let renewed = removed.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.audit_events_named("second_factor_removed")
            .await
            .unwrap(),
        1
    );
    // With the last factor went the recovery codes; the password alone signs in again.
    let listed = app
        .json("GET", "/api/v1/mfa", None, Some(&renewed))
        .await
        .json();
    assert_eq!(listed["factors"].as_array().unwrap().len(), 0);
    assert_eq!(listed["recovery_codes_left"], 0);
    let login = app.login_from("frank", STRONG, "127.0.0.1:40004").await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
}

/// Support's reset: the factors and codes go, and so do the user's sessions.
#[tokio::test]
async fn the_support_reset_removes_factors_and_ends_sessions() {
    let app = TestApp::sqlite().await;
    let user = enrolled(&app, "grace").await;
    let admin = palisade_service::admin::Admin::open(&app.config)
        .await
        .unwrap();
    let list = admin.second_factors("grace").await.unwrap();
    assert_eq!(list.factors.len(), 1);
    assert_eq!(list.recovery_codes_left, 10);
    assert_eq!(admin.reset_second_factors("grace").await.unwrap(), 1);
    app.changed_elsewhere().await;
    let me = app
        .json("GET", "/api/v1/me", None, Some(&user.session))
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    let login = app.login_from("grace", STRONG, "127.0.0.1:40005").await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(
        app.audit_events_named("second_factors_reset")
            .await
            .unwrap(),
        1
    );
    assert!(admin.second_factors("nobody").await.is_err());
    // The owner is told, at their address. (The admin queued it at the system's time,
    // which the service's stopped clock may not have reached yet.)
    app.clock.advance(60);
    let told = super::mail::deliver(&app, &[]).await;
    let notice = super::mail::one(
        &told,
        "grace@example.com",
        "The second factors of your account",
    );
    assert!(notice.text.contains("Support removed"), "{}", notice.text);
}

/// The TOTP secret is sealed in the database: neither its bytes nor its base32 are there.
#[tokio::test]
async fn the_totp_secret_is_sealed_at_rest() {
    let app = TestApp::sqlite().await;
    let user = enrolled(&app, "heidi").await;
    let (sealed, key_id): (String, String) =
        sqlx::query_as("SELECT secret_sealed, key_id FROM second_factors")
            .fetch_one(&app.db)
            .await
            .unwrap();
    let base32 = user.secret.to_base32().expose(str::to_owned);
    assert!(!sealed.contains(&base32));
    assert!(!key_id.is_empty());
    let hashes: Vec<String> = sqlx::query_scalar("SELECT code_hash FROM recovery_codes")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(hashes.len(), 10);
    for (hash, code) in hashes.iter().zip(&user.recovery_codes) {
        assert!(hash.starts_with("$pepper$"), "stored as a password hash");
        assert!(!hash.contains(&code.replace('-', "")));
    }
}

fn with_pending_cookie(
    mut request: http::Request<axum::body::Body>,
    pending: &str,
) -> http::Request<axum::body::Body> {
    request.headers_mut().insert(
        http::header::COOKIE,
        format!("{}={pending}", palisade_service::PENDING_LOGIN_COOKIE)
            .parse()
            .unwrap(),
    );
    request
}

/// The pages: the login form leads to the second step, which signs in with a code; a
/// second use of the pending login offers only "sign in again".
#[tokio::test]
async fn the_second_step_page_signs_in_with_a_code() {
    let app = TestApp::sqlite().await;
    let user = enrolled(&app, "judy").await;
    let client = "127.0.0.1:40010";
    let login = app
        .send(super::support::form(
            "/login",
            &[("identifier", "judy"), ("password", STRONG)],
            None,
            client,
        ))
        .await;
    assert_eq!(login.status, StatusCode::SEE_OTHER, "{}", login.body);
    assert_eq!(login.headers["location"], "/login/second-step");
    assert!(
        login.cookie().is_none(),
        "no session before the second step"
    );
    let pending = login
        .headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .find_map(|v| {
            let v = v.to_str().ok()?;
            let rest = v.strip_prefix(&format!("{}=", palisade_service::PENDING_LOGIN_COOKIE))?;
            Some(rest.split(';').next()?.to_owned())
        })
        .expect("the pending cookie");
    let shown = app
        .send(with_pending_cookie(
            page_get("/login/second-step", None),
            &pending,
        ))
        .await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.body.contains("name=\"code\""), "{}", shown.body);
    // Without the pending cookie there is nothing to continue.
    let none = app.send(page_get("/login/second-step", None)).await;
    assert_eq!(none.status, StatusCode::SEE_OTHER);

    app.clock.advance(30);
    let code = code_at(&user.secret, app.clock.now());
    let submit = |code: &str| {
        with_pending_cookie(
            super::support::form("/login/second-step", &[("code", code)], None, client),
            &pending,
        )
    };
    let done = app.send(submit(&code)).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.headers["location"], "/account");
    let session = done.cookie().expect("a session cookie");
    let account = app.send(page_get("/account", Some(&session))).await;
    assert_eq!(account.status, StatusCode::OK);
    let again = app.send(submit(&code)).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert!(
        again.body.contains("id=\"sign-in-again\""),
        "{}",
        again.body
    );
}

/// `keys reencrypt` moves TOTP secrets to the new key too; the old key cannot be retired
/// while one still needs it; after both, an instance holding only the new key signs the
/// user in with their app.
#[tokio::test]
async fn reencryption_covers_totp_secrets() {
    use palisade::secret::{FernetKey, Keyring};
    let app = TestApp::sqlite().await;
    let user = enrolled(&app, "kim").await;
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
    super::support::write_private(&path, contents.as_bytes()).unwrap();
    let admin = palisade_service::admin::Admin::open(&app.config)
        .await
        .unwrap();
    // Queued mail is sealed too: the key is needed until it is sent.
    let refused = admin.retire_key(&old_id).await.unwrap();
    assert_eq!(refused, palisade_service::admin::Retired::StillNeeded(3));
    assert_eq!(app.service.send_due_mail().await.unwrap(), 2);
    let refused = admin.retire_key(&old_id).await.unwrap();
    assert_eq!(refused, palisade_service::admin::Retired::StillNeeded(1));
    let done = admin.reencrypt(10, None, &mut |_, _| {}).await.unwrap();
    assert_eq!((done.done, done.failed.len()), (1, 0));
    let key_id: String = sqlx::query_scalar("SELECT key_id FROM second_factors")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(key_id, new_id);
    assert_eq!(
        admin.retire_key(&old_id).await.unwrap(),
        palisade_service::admin::Retired::Done
    );
    // A new instance, with only the new key.
    let (clock, hand) = palisade_service::Clock::manual(app.clock.now() + 30);
    let next = TestApp::with_clock(
        app.config.clone(),
        tempfile::tempdir().unwrap(),
        clock,
        hand,
    )
    .await;
    let client = "127.0.0.1:40011";
    let pending = pending_login(&next, "kim", client).await;
    let code = code_at(&user.secret, next.clock.now());
    let done = next
        .send(second_step(&pending, json!({"code": code}), client))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {text}"))
        + start.len();
    let len = text[from..].find(end).unwrap();
    &text[from..from + len]
}

/// The account pages: add an app (QR and key shown once, never cached), a wrong first code
/// confirms nothing, the right one shows the recovery codes once and offers ending the other
/// sessions; a forged form token changes nothing.
#[tokio::test]
async fn the_account_page_enrols_an_app_and_offers_ending_other_sessions() {
    use super::support::form;
    let app = TestApp::sqlite().await;
    assert_eq!(
        app.register("leo", "leo@example.com", STRONG).await.status,
        StatusCode::CREATED
    );
    let session = app
        .login_from("leo", STRONG, "127.0.0.1:40012")
        .await
        .cookie()
        .unwrap();
    let other = app.login("leo", STRONG).await;
    let page = app
        .send(page_get("/account/second-factors", Some(&session)))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("No second factor yet"), "{}", page.body);
    let csrf = between(&page.body, "name=\"csrf\" value=\"", "\"").to_owned();
    let client = "127.0.0.1:40012";

    let forged = app
        .send(form(
            "/account/second-factors/totp",
            &[("csrf", "forged"), ("name", "phone")],
            Some(&session),
            client,
        ))
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let added = app
        .send(form(
            "/account/second-factors/totp",
            &[("csrf", &csrf), ("name", "phone")],
            Some(&session),
            client,
        ))
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    assert!(
        added.headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("no-store")
    );
    assert!(added.body.contains("<svg"), "the QR code inline");
    let secret =
        TotpSecret::from_base32(between(&added.body, "<code id=\"totp-secret\">", "<")).unwrap();
    let action = between(&added.body, "action=\"/account/second-factors/totp/", "\"").to_owned();
    let confirm = format!("/account/second-factors/totp/{action}");

    let right = code_at(&secret, app.clock.now());
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    let refused = app
        .send(form(
            &confirm,
            &[("csrf", &csrf), ("confirm_code", &wrong)],
            Some(&session),
            client,
        ))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(
        refused.body.contains("id=\"confirm_code-error\""),
        "{}",
        refused.body
    );
    assert!(
        !refused.body.contains("totp-secret"),
        "the key is not shown again"
    );
    let done = app
        .send(form(
            &confirm,
            &[("csrf", &csrf), ("confirm_code", &right)],
            Some(&session),
            client,
        ))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let codes: Vec<&str> = between(&done.body, "<pre id=\"codes\">", "</pre>")
        .lines()
        .collect();
    assert_eq!(codes.len(), 10, "{codes:?}");
    assert!(done.body.contains("id=\"end-others\""), "{}", done.body);
    let listed = app
        .send(page_get("/account/second-factors", Some(&session)))
        .await;
    assert!(listed.body.contains("authenticator app") && listed.body.contains("10 unused"));
    assert!(!listed.body.contains(codes[0]), "the codes are shown once");

    // "Sign out everywhere else": the other session ends, this one stays.
    let ended = app
        .send(form(
            "/account/sessions/end-others",
            &[("csrf", &csrf)],
            Some(&session),
            client,
        ))
        .await;
    assert_eq!(ended.status, StatusCode::SEE_OTHER, "{}", ended.body);
    app.changed_elsewhere().await;
    let me = app.json("GET", "/api/v1/me", None, Some(&other)).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    let still = app.send(page_get("/account", Some(&session))).await;
    assert_eq!(still.status, StatusCode::OK);
    assert_eq!(
        app.audit_events_named("other_sessions_ended")
            .await
            .unwrap(),
        1
    );
}

/// `require_second_factor`: a password-only session reaches nothing but adding a factor
/// (API: 403 naming the need; pages: sent to the enrolment page) and signing out; once the
/// factor is confirmed, the same session reaches everything.
#[tokio::test]
async fn require_second_factor_sends_everyone_to_enrol_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = super::support::test_config(dir.path(), None);
    config.require_second_factor = true;
    let app = TestApp::with_config(config, dir).await;
    assert_eq!(
        app.register("mona", "mona@example.com", STRONG)
            .await
            .status,
        StatusCode::CREATED
    );
    let client = "127.0.0.1:40013";
    let login = app.login_from("mona", STRONG, client).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let session = login.json()["token"].as_str().unwrap().to_owned();
    let cookie = login.cookie().unwrap();
    for path in [
        "/api/v1/me",
        "/api/v1/sessions",
        "/api/v1/tokens",
        "/api/v1/secrets",
    ] {
        let reply = app.json("GET", path, None, Some(&session)).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{path}: {}",
            reply.body
        );
        assert!(
            reply.json()["type"]
                .as_str()
                .unwrap()
                .ends_with(":second-factor-enrolment-required")
        );
    }
    for path in ["/account", "/account/tokens", "/account/secrets", "/login"] {
        let reply = app.send(page_get(path, Some(&cookie))).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(
            reply.headers["location"], "/account/second-factors",
            "{path}"
        );
    }
    let page = app
        .send(page_get("/account/second-factors", Some(&cookie)))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("This site needs a second factor"),
        "{}",
        page.body
    );
    // Signing out from there (the account page, with its button, is out of reach).
    assert!(page.body.contains("id=\"logout\""), "{}", page.body);

    let added = post(
        &app,
        "/api/v1/mfa/totp",
        json!({"name": "phone"}),
        Some(&session),
    )
    .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let secret = TotpSecret::from_base32(added.json()["secret"].as_str().unwrap()).unwrap();
    let id = added.json()["id"].as_str().unwrap().to_owned();
    let code = code_at(&secret, app.clock.now());
    let confirm = format!("/api/v1/mfa/totp/{id}/confirm");
    let done = post(&app, &confirm, json!({"code": code}), Some(&session)).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    app.changed_elsewhere().await;
    let me = app.json("GET", "/api/v1/me", None, Some(&session)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    let account = app.send(page_get("/account", Some(&cookie))).await;
    assert_eq!(account.status, StatusCode::OK);
    // Signing out works at any point; the next login asks for the code.
    let out = app
        .json("POST", "/api/v1/logout", None, Some(&session))
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    pending_login(&app, "mona", client).await;
}

/// Without a session, every second-factor endpoint but the login's step answers 401 and
/// changes nothing.
#[tokio::test]
async fn the_factor_endpoints_need_a_session() {
    let app = TestApp::sqlite().await;
    for (method, path, body) in [
        ("GET", "/api/v1/mfa", None),
        ("POST", "/api/v1/mfa/totp", Some(json!({"name": "phone"}))),
        (
            "POST",
            "/api/v1/mfa/totp/abc/confirm",
            Some(json!({"code": "123456"})),
        ),
        ("DELETE", "/api/v1/mfa/abc", None),
        ("POST", "/api/v1/mfa/recovery-codes", Some(json!({}))),
        ("POST", "/api/v1/sessions/end-others", Some(json!({}))),
    ] {
        let reply = app.json(method, path, body, None).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {}",
            reply.body
        );
    }
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM second_factors")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(rows, 0);
}

/// One recovery code sent to 64 second steps at once (64 pending logins, 64 addresses):
/// exactly one signs in — the code is used up by one statement.
async fn a_recovery_code_signs_in_once(apps: &[&TestApp]) {
    let app = apps[0];
    let user = enrolled(app, "pavel").await;
    let mut pendings = Vec::new();
    for i in 0..64 {
        let client = format!("127.0.{}.{}:40000", 60 + i / 200, 1 + i % 200);
        pendings.push((
            pending_login(apps[i % apps.len()], "pavel", &client).await,
            client,
        ));
    }
    let code = user.recovery_codes[0].clone();
    let statuses = flood(apps, 64, 64, None, move |i| {
        let (pending, client) = &pendings[i];
        second_step(pending, json!({"recovery_code": code}), client)
    })
    .await;
    eprintln!("one recovery code, 64 second steps in flight: {statuses:?}");
    assert_eq!(statuses.get(&200), Some(&1), "{statuses:?}");
    let refused: usize = [403, 429].iter().filter_map(|s| statuses.get(s)).sum();
    assert_eq!(refused, 63, "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_code_signs_in_once_on_sqlite() {
    a_recovery_code_signs_in_once(&[&TestApp::sqlite().await]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_code_signs_in_once_across_two_instances_on_postgres() {
    let Some(db) = PgDb::create("recovery code replay on two PostgreSQL instances").await else {
        return;
    };
    let (a, b) = two_instances(&db).await;
    a_recovery_code_signs_in_once(&[&a, &b]).await;
    drop((a, b));
    db.drop_db().await;
}

/// 64 wrong codes at once, from 64 addresses, on one pending login: exactly five are
/// checked; the rest find the pending login out of guesses.
async fn a_pending_login_takes_five_guesses_in_flight(apps: &[&TestApp]) {
    let app = apps[0];
    let user = enrolled(app, "rosa").await;
    let pending = pending_login(apps[apps.len() - 1], "rosa", "127.0.0.1:40016").await;
    app.clock.advance(30);
    let right = code_at(&user.secret, app.clock.now());
    let wrong: Vec<String> = (1..=64)
        .map(|n| {
            format!(
                "{:06}",
                (right.parse::<u32>().unwrap() + 1000 * n) % 1_000_000
            )
        })
        .collect();
    let statuses = flood(apps, 64, 64, None, move |i| {
        let client = format!("127.0.{}.{}:40000", 70 + i / 200, 1 + i % 200);
        second_step(&pending, json!({"code": wrong[i]}), &client)
    })
    .await;
    eprintln!("64 wrong codes in flight on one pending login: {statuses:?}");
    assert_eq!(statuses.get(&403), Some(&5), "{statuses:?}");
    assert_eq!(statuses.get(&401), Some(&59), "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_login_takes_five_guesses_in_flight_on_sqlite() {
    a_pending_login_takes_five_guesses_in_flight(&[&TestApp::sqlite().await]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_login_takes_five_guesses_in_flight_across_two_instances_on_postgres() {
    let Some(db) = PgDb::create("pending login guesses on two PostgreSQL instances").await else {
        return;
    };
    let (a, b) = two_instances(&db).await;
    a_pending_login_takes_five_guesses_in_flight(&[&a, &b]).await;
    drop((a, b));
    db.drop_db().await;
}

async fn queued(app: &TestApp, kind: &str) -> i64 {
    app.service.settle().await;
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM outbox WHERE kind = $1")
        .bind(kind)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

fn wrong_codes(right: &str, n: usize) -> Vec<String> {
    (1..=n)
        .map(|k| {
            format!(
                "{:06}",
                (right.parse::<usize>().unwrap() + 1000 * k) % 1_000_000
            )
        })
        .collect()
}

/// The attack: whoever knows the password sent ten wrong codes from two pending logins
/// and the owner's right code, every recovery code and the reset completion answered 429
/// for an hour, without the owner being told. Now one address meets its own limit (five)
/// before the account's; 64 wrong codes in flight from 64 addresses exhaust the account's
/// allowance for codes that can be guessed, but a recovery code still signs the owner in;
/// and the owner is mailed once that someone knows their password.
async fn whoever_knows_the_password_cannot_lock_the_owner_out(apps: &[&TestApp]) {
    let app = apps[0];
    let user = enrolled(app, "olga").await;
    app.clock.advance(30);
    let right = code_at(&user.secret, app.clock.now());
    let wrong = wrong_codes(&right, 64);
    // One address, two pending logins, ten wrong codes: five checked, five refused.
    let attacker = "127.0.50.1:40000";
    let mut statuses = Vec::new();
    for (i, code) in wrong.iter().take(10).enumerate() {
        if i % 5 == 0 {
            statuses.push(0);
        }
        let pending = pending_login(apps[i % apps.len()], "olga", attacker).await;
        let reply = apps[i % apps.len()]
            .send(second_step(&pending, json!({ "code": code }), attacker))
            .await;
        statuses.push(reply.status.as_u16());
    }
    statuses.retain(|s| *s != 0);
    assert_eq!(
        statuses,
        [403, 403, 403, 403, 403, 429, 429, 429, 429, 429],
        "one address meets its own limit"
    );
    // The owner, elsewhere, signs in with the right code.
    let owner = "127.0.51.1:40000";
    let pending = pending_login(apps[1 % apps.len()], "olga", owner).await;
    let done = apps[1 % apps.len()]
        .send(second_step(&pending, json!({ "code": right }), owner))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);

    // 64 wrong codes in flight from 64 addresses: the account's allowance binds.
    let mut pendings = Vec::new();
    for i in 0..13 {
        let client = format!("127.0.52.{}:40000", 1 + i);
        pendings.push(pending_login(apps[i % apps.len()], "olga", &client).await);
    }
    let flood_codes = wrong.clone();
    let statuses = flood(apps, 64, 64, None, move |i| {
        let client = format!("127.0.{}.{}:40000", 53 + i / 200, 1 + i % 200);
        second_step(&pendings[i % 13], json!({"code": flood_codes[i]}), &client)
    })
    .await;
    eprintln!("64 wrong codes in flight after 5 from one address: {statuses:?}");
    assert_eq!(statuses.get(&200), None, "{statuses:?}");
    // The account had 5 of its 10 left (the owner's right code was given back).
    assert_eq!(statuses.get(&403), Some(&5), "{statuses:?}");
    // A code that can be guessed is now refused unchecked, the right one too...
    let app_code_client = "127.0.60.1:40000";
    app.clock.advance(30);
    let right = code_at(&user.secret, app.clock.now());
    let pending = pending_login(app, "olga", app_code_client).await;
    let refused = app
        .send(second_step(
            &pending,
            json!({ "code": right }),
            app_code_client,
        ))
        .await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.body
    );
    // ...but a recovery code, which cannot be guessed, signs the owner in.
    let done = app
        .send(second_step(
            &pending,
            json!({ "recovery_code": user.recovery_codes[0] }),
            app_code_client,
        ))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    // Told once, not once per wrong code.
    assert_eq!(queued(app, "wrong_second_factor").await, 1);
    assert_eq!(
        app.audit_events_named("second_factor_failed")
            .await
            .unwrap(),
        10
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whoever_knows_the_password_cannot_lock_the_owner_out_on_sqlite() {
    whoever_knows_the_password_cannot_lock_the_owner_out(&[&TestApp::sqlite().await]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whoever_knows_the_password_cannot_lock_the_owner_out_across_two_instances_on_postgres() {
    let Some(db) = PgDb::create("second-factor lockout on two PostgreSQL instances").await else {
        return;
    };
    let (a, b) = two_instances(&db).await;
    whoever_knows_the_password_cannot_lock_the_owner_out(&[&a, &b]).await;
    drop((a, b));
    db.drop_db().await;
}

/// A double click: the same right code sent on one pending login four times at once
/// signs in once; the others are told the code was just used — no wrong guess is counted
/// or audited, and nobody is told their password is known.
async fn a_code_sent_twice_at_once_is_one_use(apps: &[&TestApp]) {
    let app = apps[0];
    let user = enrolled(app, "pavel").await;
    let client = "127.0.70.1:40000";
    let pending = pending_login(app, "pavel", client).await;
    app.clock.advance(30);
    let code = code_at(&user.secret, app.clock.now());
    let statuses = flood(apps, 4, 4, None, move |_| {
        second_step(&pending, json!({ "code": code }), client)
    })
    .await;
    eprintln!("one code sent four times at once: {statuses:?}");
    assert_eq!(statuses.get(&200), Some(&1), "{statuses:?}");
    assert_eq!(statuses.get(&403), None, "{statuses:?}");
    assert_eq!(
        statuses.get(&409).copied().unwrap_or(0) + statuses.get(&401).copied().unwrap_or(0),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        app.audit_events_named("second_factor_failed")
            .await
            .unwrap(),
        0
    );
    assert_eq!(queued(app, "wrong_second_factor").await, 0);
    // Nothing was counted: five wrong codes from this address are all still checked.
    let right = code_at(&user.secret, app.clock.now());
    for code in wrong_codes(&right, 5) {
        let pending = pending_login(app, "pavel", client).await;
        let reply = app
            .send(second_step(&pending, json!({ "code": code }), client))
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    }
    // The same code later, on its own pending login from elsewhere: 409 again.
    let elsewhere = "127.0.71.1:40000";
    let pending = pending_login(app, "pavel", elsewhere).await;
    let again = app
        .send(second_step(&pending, json!({ "code": right }), elsewhere))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert_eq!(
        again.json()["type"],
        "urn:palisade:problem:code-already-used",
        "{}",
        again.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_sent_twice_at_once_is_one_use_on_sqlite() {
    a_code_sent_twice_at_once_is_one_use(&[&TestApp::sqlite().await]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_sent_twice_at_once_is_one_use_across_two_instances_on_postgres() {
    let Some(db) = PgDb::create("double submission on two PostgreSQL instances").await else {
        return;
    };
    let (a, b) = two_instances(&db).await;
    a_code_sent_twice_at_once_is_one_use(&[&a, &b]).await;
    drop((a, b));
    db.drop_db().await;
}

/// The attack: `DELETE /api/v1/mfa/{unknown id}` with a valid recovery code answered 404
/// and the code was gone (so did a name clash, by reading the code). Now what can fail is
/// checked before a proof is spent: the code still works afterwards, once.
#[tokio::test]
async fn a_proof_is_not_spent_by_a_request_that_fails() {
    let app = TestApp::sqlite().await;
    let user = enrolled(&app, "quinn").await;
    let session = user.session.clone();
    let left = |reply: Reply| reply.json()["recovery_codes_left"].as_i64().unwrap();
    let recovery = user.recovery_codes[0].clone();
    let unknown = "/api/v1/mfa/0123456789abcdef0123456789abcdef";
    let gone = app
        .json(
            "DELETE",
            unknown,
            Some(json!({ "recovery_code": recovery })),
            Some(&session),
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
    let clash = post(
        &app,
        "/api/v1/mfa/totp",
        json!({ "name": "phone", "recovery_code": recovery }),
        Some(&session),
    )
    .await;
    assert_eq!(clash.status, StatusCode::CONFLICT, "{}", clash.body);
    assert_eq!(clash.json()["field"], "name", "{}", clash.body);
    let listed = app.json("GET", "/api/v1/mfa", None, Some(&session)).await;
    assert_eq!(
        left(listed),
        10,
        "the recovery code was spent by a failed request"
    );
    // An app code too: refused for an unknown factor, then good for a change that works,
    // in the same 30 seconds (it was not taken).
    app.clock.advance(30);
    let code = code_at(&user.secret, app.clock.now());
    let gone = app
        .json(
            "DELETE",
            unknown,
            Some(json!({ "code": code })),
            Some(&session),
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
    let added = post(
        &app,
        "/api/v1/mfa/totp",
        json!({ "name": "tablet", "code": code }),
        Some(&session),
    )
    .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    assert!(added.json().get("note").is_none(), "{}", added.body);
    // The recovery code is spent once, by the request that succeeds with it.
    let again = post(
        &app,
        "/api/v1/mfa/totp",
        json!({ "name": "watch", "recovery_code": recovery }),
        Some(&session),
    )
    .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    // ...and it says that it replaces "tablet", never confirmed.
    assert!(
        again.json()["note"]
            .as_str()
            .is_some_and(|n| n.contains("\"tablet\"") && n.contains("did not confirm")),
        "{}",
        again.body
    );
    let listed = app.json("GET", "/api/v1/mfa", None, Some(&session)).await;
    assert_eq!(left(listed), 9);
}
