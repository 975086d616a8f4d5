//! No password, token, hash or secret setting reaches `Debug` output, an error message or a
//! log line: every type that holds one is built here with a marker value and formatted,
//! and a whole session of requests runs with its logs captured.

use std::io::Write;
use std::sync::{Arc, Mutex};

use http::StatusCode;
use serde_json::json;

use super::support::*;
use palisade_service::config::Redacted;

const MARKER: &str = "Zebra-Marker-7731-Quokka";

fn assert_hidden(what: &str, shown: &str) {
    assert!(!shown.contains(MARKER), "{what} shows the secret: {shown}");
}

#[tokio::test]
async fn configuration_and_connection_errors_never_show_the_database_password() {
    let dir = tempfile::tempdir().unwrap();
    // Off loopback without verified TLS: refused before connecting.
    let mut config = test_config(
        dir.path(),
        Some(format!("postgres://app:{MARKER}@db.example.com/app")),
    );
    let err = start_error(&config).await;
    assert_hidden("remote database refusal", &err);
    // A closed port: the connection error names the redacted URL.
    config.database_url = Some(Redacted::new(format!(
        "postgres://app:{MARKER}@127.0.0.1:9/app"
    )));
    let err = start_error(&config).await;
    assert_hidden("connection failure", &err);
    assert!(err.contains("redacted"), "{err}");
    // A password in the URL and a token: refused, naming both, showing neither.
    config.database_password_token = Some(Redacted::new(MARKER.into()));
    let err = start_error(&config).await;
    assert_hidden("two passwords", &err);
    assert!(
        err.contains("database_url") && err.contains("database_password_token"),
        "{err}"
    );
}

thread_local! {
    /// Where this thread's log lines go while a test captures them.
    static CAPTURE: std::cell::RefCell<Option<Arc<Mutex<Vec<u8>>>>> =
        const { std::cell::RefCell::new(None) };
}

/// A `tracing` writer into the current thread's capture buffer, if any. One global
/// subscriber writes through it: per-thread (scoped) subscribers race with other tests over
/// tracing's process-wide interest cache, and then miss events.
struct ThreadCapture;

impl Write for ThreadCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|c| {
            if let Some(sink) = &*c.borrow() {
                sink.lock().unwrap().extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures the log lines this thread emits until the returned buffer is read.
fn capture_logs() -> Arc<Mutex<Vec<u8>>> {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(|| ThreadCapture)
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
    let sink = Arc::new(Mutex::new(Vec::new()));
    CAPTURE.with(|c| *c.borrow_mut() = Some(sink.clone()));
    sink
}

#[tokio::test]
async fn a_whole_session_logs_no_secret_and_internal_errors_once() {
    let captured = capture_logs();

    let app = TestApp::sqlite().await;
    let password = format!("{MARKER} gravel orbit");
    let reply = app
        .register("hygiene", "hygiene@example.com", &password)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_hidden("registration reply", &reply.body);
    let wrong = app
        .login_from("hygiene", &format!("{MARKER} wrong"), "127.0.0.1:1")
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_hidden("failed login reply", &wrong.body);
    let token = app.login("hygiene", &password).await;
    let reply = app
        .json(
            "PUT",
            "/api/v1/secrets/api-key",
            Some(json!({"value": MARKER})),
            Some(&token),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let new_password = format!("{MARKER} violet canteen");
    let reply = app
        .json(
            "POST",
            "/api/v1/password",
            Some(json!({"current_password": password, "new_password": new_password})),
            Some(&token),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let token = reply.json()["token"].as_str().unwrap().to_owned();
    // A weak password and a NUL in one are refused without echoing them.
    let weak = app
        .register("hygiene2", "h2@example.com", &format!("{MARKER}\0"))
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_hidden("refused registration", &weak.body);

    // An internal error is logged once, whichever face meets it.
    app.break_table(BrokenTable::Sessions).await;
    let api = app
        .login_from("hygiene", &new_password, "127.0.0.1:2")
        .await;
    assert_eq!(api.status, StatusCode::INTERNAL_SERVER_ERROR);
    let page = app
        .send(form(
            "/login",
            &[("identifier", "hygiene"), ("password", &new_password)],
            None,
            "127.0.0.1:3",
        ))
        .await;
    assert_eq!(page.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(page.body.contains("Something went wrong"));

    let logs = String::from_utf8(captured.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("palisade::audit"), "logs were captured");
    assert_hidden("logs", &logs);
    assert!(!logs.contains(&token), "a session token was logged");
    assert_eq!(
        logs.matches("request failed").count(),
        2,
        "one line per failed request, from the API and the page alike:\n{logs}"
    );
}
