//! Mail: the outbox and its worker, password reset and address confirmation by link, and
//! the attacks on them — replaying a link, using it after a newer one or after it expired,
//! a scanner prefetching it, getting past a second factor, telling addresses apart by the
//! answer, and floods (64 in flight, on SQLite and across two PostgreSQL instances).
//! Messages are read where the default transport writes them: `<data_dir>/outbox/*.eml`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use http::StatusCode;
use serde_json::{Value, json};

use super::concurrency::flood;
use super::postgres::two_instances;
use super::second_factor::enrolled;
use super::support::*;
use super::test_database::TestDatabase as PgDb;

/// A message as a mail client shows it: headers, and its plain-text body decoded.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) file: String,
    pub(crate) to: String,
    pub(crate) subject: String,
    pub(crate) text: String,
    pub(crate) html: String,
}

impl Received {
    /// The token of the link the message carries (`…?token=…`).
    pub(crate) fn token(&self) -> String {
        let at = self.text.find("token=").expect("a link") + "token=".len();
        let token: String = self.text[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        assert_eq!(token.len(), 43, "{}", self.text);
        token
    }
}

/// Quoted-printable, as RFC 2045 has it: soft line breaks and `=XX` escapes.
fn unquote(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'=')
            .then(|| joined.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// Parses one message as the transports write it (multipart/alternative, quoted-printable).
pub(crate) fn parse_eml(file: &str, raw: &str) -> Received {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").expect("headers, then a body");
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_default()
            .to_owned()
    };
    // The parts end at the boundary the headers name, not at any line that starts with
    // "--": a link's token, broken across lines, may begin one (it did: 1 run in ~100).
    let boundary = head
        .split("boundary=")
        .nth(1)
        .map(|b| b.trim_start_matches('"'))
        .and_then(|b| b.split(['"', ';', '\n']).next())
        .expect("a multipart boundary")
        .to_owned();
    let part = |kind: &str| {
        let at = body
            .find(&format!("Content-Type: {kind}"))
            .unwrap_or_else(|| panic!("a {kind} part in {raw}"));
        let rest = &body[at..];
        let (_, content) = rest.split_once("\n\n").unwrap();
        let end = content
            .find(&format!("\n--{boundary}"))
            .unwrap_or(content.len());
        unquote(&content[..end])
    };
    Received {
        file: file.to_owned(),
        to: header("To"),
        subject: header("Subject"),
        text: part("text/plain"),
        html: part("text/html"),
    }
}

/// The messages in `dir`, oldest first (by name: the SMTP server names them by time).
pub(crate) fn messages_in(dir: &Path) -> Vec<Received> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            parse_eml(&name, &std::fs::read_to_string(f).unwrap())
        })
        .collect()
}

/// What the service's default transport has delivered.
pub(crate) fn delivered(app: &TestApp) -> Vec<Received> {
    messages_in(&app.config.data_dir.join("outbox"))
}

/// Lets the work behind answers finish, then sends what is due; returns what arrived
/// since `before` (messages, by file name).
pub(crate) async fn deliver(app: &TestApp, before: &[Received]) -> Vec<Received> {
    app.service.settle().await;
    app.service.send_due_mail().await.unwrap();
    let seen: BTreeSet<&str> = before.iter().map(|m| m.file.as_str()).collect();
    delivered(app)
        .into_iter()
        .filter(|m| !seen.contains(m.file.as_str()))
        .collect()
}

/// The one message among `new` whose subject starts with `subject`, to `to`.
pub(crate) fn one(new: &[Received], to: &str, subject: &str) -> Received {
    let found: Vec<&Received> = new
        .iter()
        .filter(|m| m.to == to && m.subject.starts_with(subject))
        .collect();
    assert_eq!(found.len(), 1, "one {subject:?} to {to} among {new:#?}");
    found[0].clone()
}

async fn outbox_count(app: &TestApp, kind: &str) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM outbox WHERE kind = $1")
        .bind(kind)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

pub(crate) async fn ask_reset(app: &TestApp, email: &str, client: &str) -> Reply {
    app.send(req(
        "POST",
        "/api/v1/password/reset",
        Some(("application/json", json!({ "email": email }).to_string())),
        None,
        client,
    ))
    .await
}

/// Uses a mailed address link, as its page's button does.
async fn confirm_link(app: &TestApp, token: &str) -> Reply {
    app.json(
        "POST",
        "/api/v1/email/confirm",
        Some(json!({ "token": token })),
        None,
    )
    .await
}

pub(crate) async fn complete(app: &TestApp, body: Value) -> Reply {
    app.json("POST", "/api/v1/password/reset/complete", Some(body), None)
        .await
}

const NEW: &str = "lantern harbor quietly sixteen";

/// Registers `name` and returns a session of theirs; their verification message is
/// delivered (and returned).
async fn member(app: &TestApp, name: &str) -> (String, Received) {
    let before = delivered(app);
    let email = format!("{name}@example.com");
    assert_eq!(
        app.register(name, &email, STRONG).await.status,
        StatusCode::CREATED
    );
    let new = deliver(app, &before).await;
    let verify = one(&new, &email, "Confirm your email address");
    (app.login(name, STRONG).await, verify)
}

/// Asks for a reset link for `name` and returns its token.
async fn reset_token(app: &TestApp, name: &str) -> String {
    let before = delivered(app);
    let email = format!("{name}@example.com");
    let asked = ask_reset(app, &email, "127.0.0.1:40000").await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    one(&deliver(app, &before).await, &email, "Reset your password").token()
}

#[tokio::test]
async fn a_reset_link_sets_a_new_password_once_and_ends_every_session() {
    let app = TestApp::sqlite().await;
    let (session, _) = member(&app, "alice").await;
    let api_token = app
        .json(
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": "ci", "expires_in_days": 30})),
            Some(&session),
        )
        .await;
    assert_eq!(api_token.status, StatusCode::CREATED, "{}", api_token.body);
    let api_token = api_token.json()["token"].as_str().unwrap().to_owned();
    let before = delivered(&app);
    let asked = ask_reset(&app, "alice@example.com", "127.0.0.1:40000").await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    let message = one(
        &deliver(&app, &before).await,
        "alice@example.com",
        "Reset your password",
    );
    let token = message.token();
    assert!(
        message.html.contains(&format!("token={token}")),
        "{}",
        message.html
    );
    // The link's page: a form, and opening it (as a mail scanner does) uses nothing up.
    for _ in 0..3 {
        let page = app
            .send(page_get(&format!("/password/reset?token={token}"), None))
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("name=\"new_password\""), "{}", page.body);
        assert!(
            !page.body.contains("name=\"code\""),
            "no second factor asked"
        );
    }
    // A weak password is refused and uses nothing up.
    let weak = complete(&app, json!({"token": token, "new_password": "password123"})).await;
    assert_eq!(
        weak.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        weak.body
    );
    let before = delivered(&app);
    let done = complete(&app, json!({"token": token, "new_password": NEW})).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.json()["username"], "alice");
    // Replayed: refused, naming the token.
    let again = complete(&app, json!({"token": token, "new_password": STRONG})).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);
    assert_eq!(
        again.json()["type"],
        format!("urn:palisade:problem:{}", "link-expired")
    );
    assert_eq!(again.json()["field"], "token");
    // Every session and API token ended; the new password signs in, the old does not.
    for old in [&session, &api_token] {
        let me = app.json("GET", "/api/v1/me", None, Some(old)).await;
        assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{}", me.body);
    }
    assert_eq!(
        app.login_from("alice", STRONG, "127.0.0.1:40000")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    app.login("alice", NEW).await;
    // The owner is told.
    let notice = one(
        &deliver(&app, &before).await,
        "alice@example.com",
        "Your password",
    );
    assert!(notice.text.contains("reset link"), "{}", notice.text);
    // Sent messages keep that they went, not what they said.
    let kept: Vec<(Option<String>, Option<i64>)> =
        sqlx::query_as("SELECT sealed, sent_at FROM outbox")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert!(kept.len() >= 3);
    assert!(
        kept.iter()
            .all(|(sealed, sent)| sealed.is_none() && sent.is_some())
    );
    assert_eq!(app.audit_events_named("password_reset").await.unwrap(), 1);
}

#[tokio::test]
async fn a_link_is_stored_hashed_and_sealed_until_sent() {
    let app = TestApp::sqlite().await;
    member(&app, "alice").await;
    let asked = ask_reset(&app, "alice@example.com", "127.0.0.1:40000").await;
    assert_eq!(asked.status, StatusCode::ACCEPTED);
    app.service.settle().await;
    // Queued, not sent: the link is nowhere in the database in clear.
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT recipient, sealed FROM outbox WHERE kind = 'password_reset'")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(rows.len(), 1);
    let before = delivered(&app);
    let token = one(&deliver(&app, &before).await, "alice@example.com", "Reset").token();
    assert!(!rows[0].1.contains(&token) && !rows[0].1.contains("token="));
    let stored: String = sqlx::query_scalar("SELECT token_hash FROM password_resets")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_ne!(stored, token);
    assert_eq!(stored.len(), 64, "a SHA-256, in hex");
}

#[tokio::test]
async fn a_newer_request_voids_the_older_link_and_links_expire() {
    let app = TestApp::sqlite().await;
    member(&app, "alice").await;
    let older = reset_token(&app, "alice").await;
    let newer = reset_token(&app, "alice").await;
    assert_ne!(older, newer);
    let stale = complete(&app, json!({"token": older, "new_password": NEW})).await;
    assert_eq!(stale.status, StatusCode::BAD_REQUEST, "{}", stale.body);
    let page = app
        .send(page_get(&format!("/password/reset?token={older}"), None))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("id=\"link-expired\""));
    // Fifteen minutes later the newer one is over too.
    app.clock.advance(15 * 60);
    let late = complete(&app, json!({"token": newer, "new_password": NEW})).await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST, "{}", late.body);
    app.login("alice", STRONG).await;
    // A link asked for before the owner changed the password would undo the change.
    let pending = reset_token(&app, "alice").await;
    let session = app.login("alice", STRONG).await;
    let changed = app
        .json(
            "POST",
            "/api/v1/password",
            Some(json!({"current_password": STRONG, "new_password": NEW})),
            Some(&session),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let undone = complete(&app, json!({"token": pending, "new_password": STRONG})).await;
    assert_eq!(undone.status, StatusCode::BAD_REQUEST, "{}", undone.body);
    app.login("alice", NEW).await;
}

#[tokio::test]
async fn a_token_resets_only_its_own_account() {
    let app = TestApp::sqlite().await;
    member(&app, "alice").await;
    member(&app, "bob").await;
    let bobs = reset_token(&app, "bob").await;
    let alice_before = app.user_named("alice").await.password_hash;
    let done = complete(&app, json!({"token": bobs, "new_password": NEW})).await;
    assert_eq!(done.json()["username"], "bob");
    assert_eq!(app.user_named("alice").await.password_hash, alice_before);
    app.login("alice", STRONG).await;
    app.login("bob", NEW).await;
    // Made-up and malformed tokens are refused alike, and change nothing.
    for token in ["A".repeat(43), "short".to_owned(), "x".repeat(4000)] {
        let refused = complete(&app, json!({"token": token, "new_password": NEW})).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    }
}

#[tokio::test]
async fn a_reset_asks_for_the_second_factor_before_accepting_the_password() {
    let app = TestApp::sqlite().await;
    let alice = enrolled(&app, "alice").await;
    let token = reset_token(&app, "alice").await;
    let page = app
        .send(page_get(&format!("/password/reset?token={token}"), None))
        .await;
    assert!(page.body.contains("name=\"code\""), "{}", page.body);
    assert!(!page.body.contains("reset-passkey"), "no passkey to offer");
    // Without the factor: refused, the link still good, the password unchanged.
    let bare = complete(&app, json!({"token": token, "new_password": NEW})).await;
    assert_eq!(bare.status, StatusCode::FORBIDDEN, "{}", bare.body);
    assert_eq!(bare.json()["field"], "code");
    // The next time step: the enrolment used this one's code.
    app.clock.advance(30);
    let right = alice.secret_code(app.clock.now());
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    let guessed = complete(
        &app,
        json!({"token": token, "new_password": NEW, "code": wrong}),
    )
    .await;
    assert_eq!(guessed.status, StatusCode::FORBIDDEN, "{}", guessed.body);
    assert_eq!(
        guessed.json()["type"],
        format!("urn:palisade:problem:{}", "wrong-code")
    );
    let pending = app.login_from("alice", STRONG, "127.0.0.1:40000").await;
    assert_eq!(
        pending.status,
        StatusCode::ACCEPTED,
        "the old password still works"
    );
    // No passkey to ask for.
    let challenge = app
        .json(
            "POST",
            "/api/v1/password/reset/challenge",
            Some(json!({"token": token})),
            None,
        )
        .await;
    assert_eq!(
        challenge.status,
        StatusCode::NOT_FOUND,
        "{}",
        challenge.body
    );
    let done = complete(
        &app,
        json!({"token": token, "new_password": NEW, "code": right}),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    // The factor is still there: the new password leads to the second step, not a session.
    let next = app.login_from("alice", NEW, "127.0.0.1:40000").await;
    assert_eq!(next.status, StatusCode::ACCEPTED, "{}", next.body);
    // A recovery code does too (once).
    let token = reset_token(&app, "alice").await;
    let code = &alice.recovery_codes[0];
    let done = complete(
        &app,
        json!({"token": token, "new_password": STRONG, "recovery_code": code}),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
}

#[tokio::test]
async fn the_reset_pages_work_without_script() {
    let app = TestApp::sqlite().await;
    member(&app, "alice").await;
    let before = delivered(&app);
    let asked = app
        .send(form(
            "/password/forgot",
            &[("email", "alice@example.com")],
            None,
            "127.0.0.1:40000",
        ))
        .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    assert!(asked.body.contains("id=\"reset-requested\""));
    let token = one(&deliver(&app, &before).await, "alice@example.com", "Reset").token();
    let weak = app
        .send(form(
            "/password/reset",
            &[
                ("token", &token),
                ("new_password", "password123"),
                ("code", ""),
                ("recovery_code", ""),
            ],
            None,
            "127.0.0.1:40000",
        ))
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(weak.body.contains(&token), "the form keeps the link");
    let done = app
        .send(form(
            "/password/reset",
            &[
                ("token", &token),
                ("new_password", NEW),
                ("code", ""),
                ("recovery_code", ""),
            ],
            None,
            "127.0.0.1:40000",
        ))
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.headers["location"], "/login?reset=1");
    app.login("alice", NEW).await;
    let again = app
        .send(form(
            "/password/reset",
            &[("token", &token), ("new_password", STRONG)],
            None,
            "127.0.0.1:40000",
        ))
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(again.body.contains("id=\"link-expired\""));
}

/// The answer to a reset request, as an attacker compares them.
fn answer(reply: &Reply) -> (u16, String, Option<String>) {
    (
        reply.status.as_u16(),
        reply.body.clone(),
        reply
            .headers
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_requests_answer_alike_for_known_and_unknown_addresses() {
    let app = TestApp::sqlite().await;
    member(&app, "alice").await;
    let mut known = BTreeSet::new();
    let mut unknown = BTreeSet::new();
    for i in 0..200 {
        let client = format!("127.1.{}.{}:40000", i / 200, i % 200 + 1);
        known.insert(answer(&ask_reset(&app, "alice@example.com", &client).await));
        unknown.insert(answer(
            &ask_reset(&app, &format!("nobody{i}@example.com"), &client).await,
        ));
    }
    assert_eq!(known.len(), 1, "{known:?}");
    assert_eq!(known, unknown);
    assert_eq!(known.first().unwrap().0, 202);
    app.service.settle().await;
    // Alice's address got its hourly three; the unknown ones nothing.
    assert_eq!(outbox_count(&app, "password_reset").await, 3);
    // A malformed address is told, naming the field.
    let bad = ask_reset(&app, "not an address", "127.0.0.9:1").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json()["field"], "email");
}

/// 64 requests in flight from 64 addresses for one address: every one is answered 202, and
/// exactly the hourly allowance of messages is queued. Then 64 from one address: its rate
/// lets 50 through.
async fn reset_flood(apps: &[&TestApp]) {
    member(apps[0], "alice").await;
    let statuses = flood(apps, 64, 64, None, |i| {
        req(
            "POST",
            "/api/v1/password/reset",
            Some((
                "application/json",
                json!({"email": "alice@example.com"}).to_string(),
            )),
            None,
            &format!("127.2.0.{}:40000", i + 1),
        )
    })
    .await;
    assert_eq!(statuses, BTreeMap::from([(202, 64)]));
    for app in apps {
        app.service.settle().await;
    }
    assert_eq!(outbox_count(apps[0], "password_reset").await, 3);
    let statuses = flood(apps, 64, 64, None, |i| {
        req(
            "POST",
            "/api/v1/password/reset",
            Some((
                "application/json",
                json!({"email": format!("x{i}@example.com")}).to_string(),
            )),
            None,
            "127.2.1.1:40000",
        )
    })
    .await;
    assert_eq!(statuses, BTreeMap::from([(202, 50), (429, 14)]));
    for app in apps {
        app.service.settle().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_floods_are_bounded_on_sqlite() {
    reset_flood(&[&TestApp::sqlite().await]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_floods_are_bounded_across_two_instances_on_postgres() {
    let Some(db) = PgDb::create("reset floods on two PostgreSQL instances").await else {
        return;
    };
    let (a, b) = two_instances(&db).await;
    reset_flood(&[&a, &b]).await;
    drop((a, b));
    db.drop_db().await;
}

/// One link sent 64 times at once, from 64 addresses: one password is set, the rest are
/// refused.
async fn a_link_is_used_once(apps: &[&TestApp]) {
    member(apps[0], "alice").await;
    let token = reset_token(apps[0], "alice").await;
    let statuses = flood(apps, 64, 64, None, move |i| {
        req(
            "POST",
            "/api/v1/password/reset/complete",
            Some((
                "application/json",
                json!({"token": token, "new_password": format!("{NEW} {i}")}).to_string(),
            )),
            None,
            &format!("127.3.0.{}:40000", i + 1),
        )
    })
    .await;
    assert_eq!(statuses, BTreeMap::from([(200, 1), (400, 63)]));
    assert_eq!(
        apps[0].audit_events_named("password_reset").await.unwrap(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_is_used_once_on_sqlite() {
    a_link_is_used_once(&[&TestApp::sqlite().await]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_is_used_once_across_two_instances_on_postgres() {
    let Some(db) = PgDb::create("reset link use on two PostgreSQL instances").await else {
        return;
    };
    let (a, b) = two_instances(&db).await;
    a_link_is_used_once(&[&a, &b]).await;
    drop((a, b));
    db.drop_db().await;
}

/// Two workers on one database, each sending at once: every message goes exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_send_each_message_once_on_postgres() {
    let Some(db) = PgDb::create("two mail workers on PostgreSQL").await else {
        return;
    };
    let (a, b) = two_instances(&db).await;
    for i in 0..40 {
        let name = format!("user{i}");
        assert_eq!(
            a.register(&name, &format!("{name}@example.com"), STRONG)
                .await
                .status,
            StatusCode::CREATED
        );
    }
    let (sent_a, sent_b) = tokio::join!(a.service.send_due_mail(), b.service.send_due_mail());
    let (sent_a, sent_b) = (sent_a.unwrap(), sent_b.unwrap());
    assert_eq!(sent_a + sent_b, 40, "{sent_a} + {sent_b}");
    // Both instances write to the one data directory: 40 files, each message once.
    let files = delivered(&a);
    assert_eq!(files.len(), 40);
    let recipients: BTreeSet<&str> = files.iter().map(|m| m.to.as_str()).collect();
    assert_eq!(recipients.len(), 40);
    drop((a, b));
    db.drop_db().await;
}

#[tokio::test]
async fn changing_the_password_or_the_factors_tells_the_owner() {
    let app = TestApp::sqlite().await;
    let alice = enrolled(&app, "alice").await;
    let new = deliver(&app, &[]).await;
    one(&new, "alice@example.com", "A second factor was added");
    let changed = app
        .json(
            "POST",
            "/api/v1/password",
            Some(json!({"current_password": STRONG, "new_password": NEW})),
            Some(&alice.session),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let session = changed.json()["token"].as_str().unwrap().to_owned();
    let notice = one(
        &deliver(&app, &new).await,
        "alice@example.com",
        "Your password",
    );
    assert!(notice.text.contains("knew the old one"));
    let before = delivered(&app);
    let factors = app.json("GET", "/api/v1/mfa", None, Some(&session)).await;
    let id = factors.json()["factors"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = alice.secret_code(app.clock.now() + 30);
    app.clock.advance(30);
    let removed = app
        .json(
            "DELETE",
            &format!("/api/v1/mfa/{id}"),
            Some(json!({"code": code})),
            Some(&session),
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    let notice = one(
        &deliver(&app, &before).await,
        "alice@example.com",
        "A second factor was removed",
    );
    assert!(notice.text.contains("phone"), "{}", notice.text);
}

async fn verifying_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let config = palisade_service::Config {
        require_verified_email: true,
        ..test_config(dir.path(), None)
    };
    TestApp::with_config(config, dir).await
}

#[tokio::test]
async fn require_verified_email_keeps_users_to_the_confirmation_page() {
    let app = verifying_app().await;
    let (session, verify) = member(&app, "alice").await;
    // Signed in, but nothing else until the address is confirmed.
    let sessions = app
        .json("GET", "/api/v1/sessions", None, Some(&session))
        .await;
    assert_eq!(sessions.status, StatusCode::FORBIDDEN, "{}", sessions.body);
    assert_eq!(
        sessions.json()["type"],
        format!("urn:palisade:problem:{}", "email-verification-required")
    );
    let me = app.json("GET", "/api/v1/me", None, Some(&session)).await;
    assert_eq!(me.status, StatusCode::FORBIDDEN);
    let cookie = session.clone();
    let account = app.send(page_get("/account", Some(&cookie))).await;
    assert_eq!(account.status, StatusCode::SEE_OTHER);
    assert_eq!(account.headers["location"], "/account/verify-email");
    let page = app
        .send(page_get("/account/verify-email", Some(&cookie)))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("alice@example.com"));
    // Opening the link (a scanner) confirms nothing; its button does, once.
    let token = verify.token();
    let opened = app
        .send(page_get(&format!("/email/confirm?token={token}"), None))
        .await;
    assert_eq!(opened.status, StatusCode::OK);
    assert!(opened.body.contains("id=\"confirm-email\""));
    assert_eq!(
        app.json("GET", "/api/v1/sessions", None, Some(&session))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let confirmed = app
        .send(form(
            "/email/confirm",
            &[("token", &token)],
            None,
            "127.0.0.1:40000",
        ))
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    assert!(confirmed.body.contains("id=\"email-confirmed\""));
    app.changed_elsewhere().await;
    let sessions = app
        .json("GET", "/api/v1/sessions", None, Some(&session))
        .await;
    assert_eq!(sessions.status, StatusCode::OK, "{}", sessions.body);
    let replay = confirm_link(&app, &token).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn verification_links_can_be_sent_again_a_few_times_an_hour() {
    let app = verifying_app().await;
    let (session, first) = member(&app, "alice").await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let resent = app
            .json("POST", "/api/v1/email/verification", None, Some(&session))
            .await;
        statuses.push(resent.status.as_u16());
    }
    // Five more an hour (the one sent at registration aside).
    assert_eq!(statuses, [202, 202, 202, 202, 202, 429]);
    // Of the six links, one works: the newest (each replaced the one before).
    let new = deliver(&app, std::slice::from_ref(&first)).await;
    assert_eq!(new.len(), 5);
    let mut worked = Vec::new();
    for link in std::iter::once(&first).chain(&new) {
        let reply = confirm_link(&app, &link.token()).await;
        if reply.status == StatusCode::OK {
            worked.push(reply);
        } else {
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        }
    }
    assert_eq!(worked.len(), 1);
    let done = &worked[0];
    assert_eq!(done.json()["confirmed"], "verified");
}

#[tokio::test]
async fn changing_the_address_needs_the_password_and_the_new_address_link() {
    let app = TestApp::sqlite().await;
    let (session, _) = member(&app, "alice").await;
    member(&app, "bob").await;
    let before = delivered(&app);
    let change = |password: &'static str, email: &'static str| {
        app.json(
            "POST",
            "/api/v1/account/email",
            Some(json!({"new_email": email, "password": password})),
            Some(&session),
        )
    };
    let wrong = change("not my password", "alice@new.example").await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{}", wrong.body);
    let same = change(STRONG, "Alice@example.com").await;
    assert_eq!(
        same.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        same.body
    );
    assert_eq!(same.json()["field"], "new_email");
    let asked = change(STRONG, "alice@new.example").await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    let new = deliver(&app, &before).await;
    let link = one(&new, "alice@new.example", "Confirm your new email address");
    let told = one(&new, "alice@example.com", "A change of your email address");
    assert!(told.text.contains("alice@new.example"));
    // Nothing changed yet: the old address still signs in, the new one does not.
    app.login("alice@example.com", STRONG).await;
    assert_eq!(
        app.login_from("alice@new.example", STRONG, "127.0.0.1:40000")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // A reset link sent to the old address before the change loses its power with it.
    let old_reset = reset_token(&app, "alice").await;
    let before = delivered(&app);
    let done = confirm_link(&app, &link.token()).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.json()["confirmed"], "changed");
    let stale = complete(&app, json!({"token": old_reset, "new_password": NEW})).await;
    assert_eq!(stale.status, StatusCode::BAD_REQUEST, "{}", stale.body);
    app.login("alice@new.example", STRONG).await;
    let old = one(
        &deliver(&app, &before).await,
        "alice@example.com",
        "Your email address",
    );
    assert!(old.text.contains("alice@new.example"));
    // An address another account holds: asking tells nothing, the link cannot take it.
    let before = delivered(&app);
    let session = app.login("alice", STRONG).await;
    let asked = app
        .json(
            "POST",
            "/api/v1/account/email",
            Some(json!({"new_email": "bob@example.com", "password": STRONG})),
            Some(&session),
        )
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    let link = one(
        &deliver(&app, &before).await,
        "bob@example.com",
        "Confirm your new",
    );
    let taken = confirm_link(&app, &link.token()).await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.body);
    app.login("alice@new.example", STRONG).await;
}

/// A server that is not there: a port nothing listens on.
fn unreachable_smtp(data: &Path) -> palisade_service::Config {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    palisade_service::Config {
        smtp_host: Some("localhost".into()),
        smtp_port: Some(port),
        mail_from: Some("accounts@example.com".into()),
        // Registration's address link is the message these tests keep (sign-up by link,
        // the default with SMTP, has its own tests in signup.rs).
        signup_by_link: Some(false),
        ..test_config(data, None)
    }
}

#[derive(Debug, sqlx::FromRow)]
struct Kept {
    kind: String,
    sealed: Option<String>,
    failed_at: Option<i64>,
    attempts: i64,
}

#[tokio::test]
async fn a_message_past_its_use_is_given_up_and_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::with_config(unreachable_smtp(dir.path()), dir).await;
    assert_eq!(
        app.register("alice", "alice@example.com", STRONG)
            .await
            .status,
        StatusCode::CREATED
    );
    let asked = ask_reset(&app, "alice@example.com", "127.0.0.1:40000").await;
    assert_eq!(asked.status, StatusCode::ACCEPTED);
    app.service.settle().await;
    assert_eq!(app.service.send_due_mail().await.unwrap(), 0);
    // The reset link is over after 15 minutes: so is its message. The address link (24
    // hours) is still worth sending, and kept.
    app.clock.advance(16 * 60);
    assert_eq!(app.service.send_due_mail().await.unwrap(), 0);
    let rows: Vec<Kept> =
        sqlx::query_as("SELECT kind, sealed, failed_at, attempts FROM outbox ORDER BY kind")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let (reset, verify) = (&rows[0], &rows[1]);
    assert_eq!(reset.kind, "password_reset");
    assert!(
        reset.failed_at.is_some() && reset.sealed.is_none(),
        "{reset:?}"
    );
    assert_eq!(verify.kind, "verify_email");
    assert!(
        verify.failed_at.is_none() && verify.sealed.is_some(),
        "{verify:?}"
    );
    assert_eq!(verify.attempts, 2);
}

/// One address link confirmed 64 times at once: once.
async fn an_address_link_is_used_once(apps: &[&TestApp]) {
    let (_, verify) = member(apps[0], "alice").await;
    let token = verify.token();
    let statuses = flood(apps, 64, 64, None, move |i| {
        req(
            "POST",
            "/api/v1/email/confirm",
            Some(("application/json", json!({ "token": token }).to_string())),
            None,
            &format!("127.5.0.{}:40000", i + 1),
        )
    })
    .await;
    assert_eq!(statuses, BTreeMap::from([(200, 1), (400, 63)]));
    assert_eq!(
        apps[0].audit_events_named("email_verified").await.unwrap(),
        1
    );
}

/// 64 requests for a new address link at once: the hourly allowance lets five through.
async fn address_links_are_bounded(apps: &[&TestApp]) {
    let (session, _) = member(apps[0], "bob").await;
    let statuses = flood(apps, 64, 64, None, move |i| {
        req(
            "POST",
            "/api/v1/email/verification",
            None,
            Some(&session),
            &format!("127.6.0.{}:40000", i + 1),
        )
    })
    .await;
    assert_eq!(statuses, BTreeMap::from([(202, 5), (429, 59)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn address_links_under_concurrency_on_sqlite() {
    let app = TestApp::sqlite().await;
    an_address_link_is_used_once(&[&app]).await;
    address_links_are_bounded(&[&app]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn address_links_under_concurrency_across_two_instances_on_postgres() {
    let Some(db) = PgDb::create("address links on two PostgreSQL instances").await else {
        return;
    };
    let (a, b) = two_instances(&db).await;
    an_address_link_is_used_once(&[&a, &b]).await;
    address_links_are_bounded(&[&a, &b]).await;
    drop((a, b));
    db.drop_db().await;
}

#[tokio::test]
async fn an_unverified_user_fixes_a_mistyped_address_from_the_confirmation_page() {
    let app = verifying_app().await;
    let before = delivered(&app);
    assert_eq!(
        app.register("carol", "carol@exmaple.com", STRONG)
            .await
            .status,
        StatusCode::CREATED
    );
    let session = app.login("carol", STRONG).await;
    let page = app
        .send(page_get("/account/verify-email", Some(&session)))
        .await;
    let csrf = form_token(&page.body);
    let fix = |password: &str| {
        form(
            "/account/email",
            &[
                ("csrf", &csrf),
                ("new_email", "carol@example.com"),
                ("password", password),
            ],
            Some(&session),
            "127.0.0.1:40000",
        )
    };
    let wrong = app.send(fix("not my password")).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert!(
        wrong.body.contains("Wrong address?"),
        "still the confirmation page"
    );
    let asked = app.send(fix(STRONG)).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    assert!(asked.body.contains("on its way"));
    let new = deliver(&app, &before).await;
    let link = one(&new, "carol@example.com", "Confirm your new email address");
    let confirmed = confirm_link(&app, &link.token()).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    app.changed_elsewhere().await;
    let sessions = app
        .json("GET", "/api/v1/sessions", None, Some(&session))
        .await;
    assert_eq!(
        sessions.status,
        StatusCode::OK,
        "confirmed by the change: {}",
        sessions.body
    );
}

/// A sign-in as a browser sends it: from `client`, with the browser's cookie if it has one.
fn sign_in_as(browser: Option<&str>, name: &str, client: &str) -> http::Request<axum::body::Body> {
    let body = json!({"identifier": name, "password": STRONG}).to_string();
    let mut request = req(
        "POST",
        "/api/v1/login",
        Some(("application/json", body)),
        None,
        client,
    );
    request.headers_mut().insert(
        http::header::USER_AGENT,
        "Firefox/140 on the tests".parse().unwrap(),
    );
    if let Some(browser) = browser {
        request.headers_mut().insert(
            http::header::COOKIE,
            format!("{}={browser}", palisade_service::BROWSER_COOKIE)
                .parse()
                .unwrap(),
        );
    }
    request
}

/// The browser cookie a sign-in set, if it set one.
fn browser_cookie(reply: &Reply) -> Option<String> {
    reply
        .headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .find_map(|v| {
            let v = v.to_str().ok()?;
            let rest = v.strip_prefix(&format!("{}=", palisade_service::BROWSER_COOKIE))?;
            assert!(
                v.contains("HttpOnly") && v.contains("Secure") && v.contains("Max-Age="),
                "{v}"
            );
            rest.split(';').next().map(str::to_owned)
        })
}

#[tokio::test]
async fn a_sign_in_from_a_new_browser_tells_the_owner() {
    let app = TestApp::sqlite().await;
    let (_, _) = member(&app, "alice").await;
    // `member` signed in once without a cookie: that browser is the account's first (no
    // news), once its check (after the answer) is done. Another sign-in in a browser the
    // account has not seen is told.
    app.service.settle().await;
    let first = app.send(sign_in_as(None, "alice", "127.0.0.1:40000")).await;
    assert_eq!(first.status, StatusCode::OK);
    let browser = browser_cookie(&first).expect("a browser cookie");
    let told = deliver(&app, &[]).await;
    let before = delivered(&app);
    let notice = one(&told, "alice@example.com", "A new sign-in");
    assert!(
        notice.text.contains("Firefox/140 on the tests") && notice.text.contains("127.0.0.1"),
        "{}",
        notice.text
    );
    // The same browser again: nothing new, and no new cookie.
    let again = app
        .send(sign_in_as(Some(&browser), "alice", "127.0.0.9:40000"))
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(browser_cookie(&again).is_none());
    assert!(deliver(&app, &delivered(&app)).await.is_empty());
    // A forged or broken cookie is a new browser.
    let forged = app
        .send(sign_in_as(Some("forged"), "alice", "127.0.0.1:40000"))
        .await;
    assert!(browser_cookie(&forged).is_some());
    let new = deliver(&app, &before).await;
    assert_eq!(
        new.iter()
            .filter(|m| m.subject.starts_with("A new sign-in"))
            .count(),
        1
    );
}

/// 64 sign-ins at once from 64 new browsers and addresses: at most three notices an hour.
async fn new_browser_notices_are_bounded(apps: &[&TestApp]) {
    member(apps[0], "dora").await;
    let statuses = flood(apps, 64, 64, None, |i| {
        sign_in_as(None, "dora", &format!("127.7.0.{}:40000", i + 1))
    })
    .await;
    assert_eq!(statuses, BTreeMap::from([(200, 64)]));
    for app in apps {
        app.service.settle().await;
    }
    assert_eq!(outbox_count(apps[0], "new_sign_in").await, 3);
    let browsers: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM known_browsers")
        .fetch_one(&apps[0].db)
        .await
        .unwrap();
    assert_eq!(browsers, 50, "the most kept per account");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_browser_notices_are_bounded_on_sqlite() {
    new_browser_notices_are_bounded(&[&TestApp::sqlite().await]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_browser_notices_are_bounded_across_two_instances_on_postgres() {
    let Some(db) = PgDb::create("new browser notices on two PostgreSQL instances").await else {
        return;
    };
    let (a, b) = two_instances(&db).await;
    new_browser_notices_are_bounded(&[&a, &b]).await;
    drop((a, b));
    db.drop_db().await;
}

#[tokio::test]
async fn without_notify_new_sign_in_no_browser_is_marked() {
    let dir = tempfile::tempdir().unwrap();
    let config = palisade_service::Config {
        notify_new_sign_in: false,
        ..test_config(dir.path(), None)
    };
    let app = TestApp::with_config(config, dir).await;
    member(&app, "erin").await;
    let signed = app.send(sign_in_as(None, "erin", "127.0.0.1:40000")).await;
    assert_eq!(signed.status, StatusCode::OK);
    assert!(browser_cookie(&signed).is_none());
    app.service.settle().await;
    assert_eq!(outbox_count(&app, "new_sign_in").await, 0);
}
