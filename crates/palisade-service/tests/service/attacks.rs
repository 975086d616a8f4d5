//! Every attack payload in every field of register and login, through the API and the forms.

use std::path::PathBuf;

use http::StatusCode;
use serde_json::json;

use super::support::*;

pub(crate) fn payload_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("PALISADE_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata")
        })
        .join("payloads");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "test data missing at {} (CI=true)",
        dir.display()
    );
    eprintln!(
        "SKIPPED attack payloads: test data not found at {}",
        dir.display()
    );
    None
}

fn payloads(dir: &std::path::Path) -> Vec<String> {
    let mut all = Vec::new();
    for sub in [
        "payloadsallthethings/sqli",
        "payloadsallthethings/xss",
        "payloadsallthethings/crlf",
    ] {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for file in files {
            let bytes = std::fs::read(&file).unwrap();
            all.extend(
                String::from_utf8_lossy(&bytes)
                    .lines()
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned),
            );
        }
    }
    let blns: Vec<String> = serde_json::from_str(
        &std::fs::read_to_string(dir.join("naughty-strings/blns.json")).unwrap(),
    )
    .unwrap();
    all.extend(blns);
    all.sort();
    all.dedup();
    all
}

/// Whether a page shows `payload` unescaped: a payload that can open a tag or leave an
/// attribute must never appear verbatim more often than in the page's own markup
/// (`baseline`: the same page with harmless input; `</body>` is in every page).
fn rendered_raw(body: &str, baseline: &str, payload: &str) -> bool {
    payload.contains(['<', '"', '\''])
        && body.matches(payload).count() > baseline.matches(payload).count()
}

/// Whether a problem response repeats the input (it names fields, never values).
fn echoed(body: &str, payload: &str) -> bool {
    payload.len() >= 8 && body.contains(payload)
}

pub(crate) async fn every_payload_in_every_field(app: &TestApp) {
    let Some(dir) = payload_dir() else { return };
    let list = payloads(&dir);
    assert!(list.len() > 3000, "{}", list.len());
    app.register("target", "target@example.com", STRONG).await;
    let pool = app.db.clone();
    let users_before = app.users().await.unwrap();
    let hash_before = users_before[0].password_hash.clone();
    let mut registered = 0;
    let baseline_register = app
        .send(form(
            "/register",
            &[
                ("username", "a"),
                ("email", "a"),
                ("display_name", "a"),
                ("password", "short"),
            ],
            None,
            "10.255.0.1:1",
        ))
        .await
        .body;
    let baseline_login = app
        .send(form(
            "/login",
            &[("identifier", "a"), ("password", "a")],
            None,
            "10.255.0.2:1",
        ))
        .await
        .body;
    for (n, payload) in list.iter().enumerate() {
        // A fresh address for each payload, so the rate limit does not hide the code paths.
        let client = format!("10.{}.{}.{}:1000", (n >> 16) & 255, (n >> 8) & 255, n & 255);
        let fields = [
            json!({"username": payload, "email": "p@example.com", "password": STRONG}),
            json!({"username": format!("u{n}"), "email": payload, "password": STRONG}),
            json!({"username": format!("v{n}"), "email": format!("v{n}@example.com"), "password": payload}),
            json!({"username": format!("w{n}"), "email": format!("w{n}@example.com"), "password": STRONG, "display_name": payload}),
        ];
        for body in fields {
            let reply = app
                .send(req(
                    "POST",
                    "/api/v1/register",
                    Some(("application/json", body.to_string())),
                    None,
                    &client,
                ))
                .await;
            assert!(
                !reply.status.is_server_error(),
                "register {payload:?}: {}",
                reply.status
            );
            registered += usize::from(reply.status == StatusCode::CREATED);
            assert!(
                reply.status == StatusCode::CREATED || !echoed(&reply.body, payload),
                "echoed {payload:?}"
            );
        }
        for (identifier, password) in [
            (payload.as_str(), "wrong password 1"),
            ("target", payload.as_str()),
        ] {
            let body = json!({"identifier": identifier, "password": password}).to_string();
            let reply = app
                .send(req(
                    "POST",
                    "/api/v1/login",
                    Some(("application/json", body)),
                    None,
                    &client,
                ))
                .await;
            assert!(
                !reply.status.is_server_error(),
                "login {payload:?}: {}",
                reply.status
            );
            assert_ne!(
                reply.status,
                StatusCode::OK,
                "login with payload {payload:?} succeeded"
            );
            assert!(!echoed(&reply.body, payload), "echoed {payload:?}");
        }
        // The forms: the same fields, pages must escape what they echo back.
        let forms: [(&str, Vec<(&str, &str)>); 3] = [
            (
                "/register",
                vec![
                    ("username", payload),
                    ("email", payload),
                    ("display_name", payload),
                    ("password", "short"),
                ],
            ),
            (
                "/login",
                vec![("identifier", payload), ("password", payload)],
            ),
            (
                "/login",
                vec![("identifier", "target"), ("password", payload)],
            ),
        ];
        for (path, fields) in forms {
            let reply = app.send(form(path, &fields, None, &client)).await;
            assert!(
                !reply.status.is_server_error(),
                "{path} {payload:?}: {}",
                reply.status
            );
            let baseline = if path == "/register" {
                &baseline_register
            } else {
                &baseline_login
            };
            assert!(
                !rendered_raw(&reply.body, baseline, payload),
                "{path} rendered {payload:?} unescaped"
            );
        }
    }
    // Only valid registrations changed rows; the target's hash is untouched.
    let users = app.users().await.unwrap();
    assert_eq!(users.len(), users_before.len() + registered);
    let target = users.iter().find(|u| u.username == "target").unwrap();
    assert_eq!(target.password_hash, hash_before);
    let store = &app;
    assert_eq!(
        store.count_rows(CountedTable::Sessions).await.unwrap(),
        0,
        "no payload logged anyone in"
    );
    assert_eq!(
        store.count_rows(CountedTable::Users).await.unwrap() as usize,
        users.len(),
        "the users table is intact"
    );
    let _ = pool;
    eprintln!(
        "{} payloads × 6 API fields and 3 forms: {registered} valid registrations, no 5xx",
        list.len()
    );
}

#[tokio::test]
async fn every_payload_in_every_field_on_sqlite() {
    every_payload_in_every_field(&TestApp::sqlite().await).await;
}
