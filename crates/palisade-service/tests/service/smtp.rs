//! Mail through a real SMTP server: Python's aiosmtpd on loopback, STARTTLS required on a
//! certificate from a CA made here, AUTH required. The messages arrive, their links work;
//! with the server down the outbox keeps them and sends them once it is back; a server
//! whose certificate nobody vouched for is refused, and the message kept for later.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use http::StatusCode;
use palisade_service::Config;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use serde_json::json;

use super::mail::{ask_reset, complete, messages_in, one};
use super::support::*;

const USER: &str = "palisade";
const PASSWORD: &str = "smtp password for the tests";

/// Whether the Python SMTP server may run here; says why not (and fails under CI).
fn python_tests() -> bool {
    if std::env::var("PALISADE_PYTHON_TESTS").as_deref() == Ok("1") {
        return true;
    }
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "CI must run the SMTP tests: set PALISADE_PYTHON_TESTS=1 (needs pip install aiosmtpd)"
    );
    eprintln!("SKIPPED SMTP tests: set PALISADE_PYTHON_TESTS=1 (needs pip install aiosmtpd)");
    false
}

/// A CA, and a certificate it issued for `localhost` with its key, in `dir`.
fn certificates(dir: &Path) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "palisade mail test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
}

/// The SMTP server, stopped when dropped.
struct SmtpServer {
    child: Child,
}

impl SmtpServer {
    fn start(dir: &Path, port: u16) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/service/smtp_server.py");
        let inbox = dir.join("inbox");
        std::fs::create_dir_all(&inbox).unwrap();
        let mut child = Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .arg(dir.join("server.pem"))
            .arg(dir.join("server.key"))
            .arg(&inbox)
            .args([USER, PASSWORD])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 with aiosmtpd");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP server did not start");
        Self { child }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        // Closing its stdin stops it.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Setup {
    dir: tempfile::TempDir,
    port: u16,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        certificates(dir.path());
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .mode_private()
            .open(dir.path().join("smtp-password"))
            .unwrap();
        writeln!(file, "{PASSWORD}").unwrap();
        Self {
            dir,
            port: free_port(),
        }
    }

    fn inbox(&self) -> PathBuf {
        self.dir.path().join("inbox")
    }

    /// The service's configuration: this server, trusting its CA unless `trust` is false.
    fn config(&self, data: &Path, trust: bool) -> Config {
        Config {
            smtp_host: Some("localhost".into()),
            smtp_port: Some(self.port),
            smtp_username: Some(USER.into()),
            smtp_password_file: Some(self.dir.path().join("smtp-password")),
            smtp_ca_file: trust.then(|| self.dir.path().join("ca.pem")),
            mail_from: Some("Accounts <accounts@example.com>".into()),
            // These tests are about the transport, and send registration's address link;
            // sign-up by link (the default with SMTP) has its own tests (signup.rs).
            signup_by_link: Some(false),
            ..test_config(data, None)
        }
    }
}

trait PrivateMode {
    fn mode_private(&mut self) -> &mut Self;
}

impl PrivateMode for std::fs::OpenOptions {
    fn mode_private(&mut self) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::mode(self, 0o600)
    }
}

/// Registers alice (which queues her address link).
async fn register_alice(app: &TestApp) {
    let reply = app.register("alice", "alice@example.com", STRONG).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
}

#[derive(Debug, sqlx::FromRow)]
struct Queued {
    attempts: i64,
    sealed: Option<String>,
    sent_at: Option<i64>,
    last_error: Option<String>,
}

async fn queued(app: &TestApp, kind: &str) -> Vec<Queued> {
    sqlx::query_as("SELECT attempts, sealed, sent_at, last_error FROM outbox WHERE kind = $1")
        .bind(kind)
        .fetch_all(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn mail_goes_through_smtp_with_starttls_and_auth() {
    if !python_tests() {
        return;
    }
    let setup = Setup::new();
    let _server = SmtpServer::start(setup.dir.path(), setup.port);
    let data = tempfile::tempdir().unwrap();
    let config = setup.config(data.path(), true);
    // `palisade mail test`'s path: at once, past the outbox.
    let to = palisade_service::admin::send_test_mail(&config, "ops@example.com")
        .await
        .unwrap();
    assert!(to.contains("starttls"), "{to}");
    one(
        &messages_in(&setup.inbox()),
        "ops@example.com",
        "Test message",
    );
    let app = TestApp::with_config(config, data).await;
    register_alice(&app).await;
    let asked = ask_reset(&app, "alice@example.com", "127.0.0.1:40000").await;
    assert_eq!(asked.status, StatusCode::ACCEPTED);
    app.service.settle().await;
    assert_eq!(app.service.send_due_mail().await.unwrap(), 2);
    let inbox = messages_in(&setup.inbox());
    let reset = one(&inbox, "alice@example.com", "Reset your password");
    let done = complete(
        &app,
        json!({"token": reset.token(), "new_password": "lantern harbor quietly sixteen"}),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    // Nothing went to the files meant for when no server is configured.
    assert!(!app.config.data_dir.join("outbox").exists());
}

#[tokio::test]
async fn with_the_server_down_the_outbox_keeps_the_message_until_it_is_back() {
    if !python_tests() {
        return;
    }
    let setup = Setup::new();
    let data = tempfile::tempdir().unwrap();
    let app = TestApp::with_config(setup.config(data.path(), true), data).await;
    register_alice(&app).await;
    // The request is answered as ever: sending is not its business.
    let asked = ask_reset(&app, "alice@example.com", "127.0.0.1:40000").await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    app.service.settle().await;
    assert_eq!(app.service.send_due_mail().await.unwrap(), 0);
    let kept = queued(&app, "password_reset").await;
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].attempts, 1);
    assert!(kept[0].sealed.is_some() && kept[0].sent_at.is_none());
    assert!(
        kept[0].last_error.as_deref().unwrap().contains("onnection"),
        "{kept:?}"
    );
    let _server = SmtpServer::start(setup.dir.path(), setup.port);
    // Not before its backoff is over…
    assert_eq!(app.service.send_due_mail().await.unwrap(), 0);
    app.clock.advance(30);
    // …then it goes (with the registration's verification message), once.
    assert_eq!(app.service.send_due_mail().await.unwrap(), 2);
    assert_eq!(app.service.send_due_mail().await.unwrap(), 0);
    let reset = one(
        &messages_in(&setup.inbox()),
        "alice@example.com",
        "Reset your password",
    );
    let done = complete(
        &app,
        json!({"token": reset.token(), "new_password": "lantern harbor quietly sixteen"}),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let sent = queued(&app, "password_reset").await;
    assert!(sent[0].sent_at.is_some() && sent[0].sealed.is_none());
}

#[tokio::test]
async fn a_server_with_an_untrusted_certificate_is_refused_and_retried() {
    if !python_tests() {
        return;
    }
    let setup = Setup::new();
    let _server = SmtpServer::start(setup.dir.path(), setup.port);
    let data = tempfile::tempdir().unwrap();
    let config = setup.config(data.path(), false);
    let refused = palisade_service::admin::send_test_mail(&config, "ops@example.com")
        .await
        .unwrap_err();
    assert!(refused.to_lowercase().contains("certificate"), "{refused}");
    let app = TestApp::with_config(config, data).await;
    register_alice(&app).await;
    assert_eq!(app.service.send_due_mail().await.unwrap(), 0);
    let kept = queued(&app, "verify_email").await;
    assert_eq!(kept.len(), 1);
    assert!(kept[0].sealed.is_some(), "kept, to be tried again");
    assert!(
        kept[0]
            .last_error
            .as_deref()
            .unwrap()
            .to_lowercase()
            .contains("certificate"),
        "{kept:?}"
    );
    // Nothing reached the server: not the message, not the password.
    assert!(messages_in(&setup.inbox()).is_empty());
    app.clock.advance(30);
    assert_eq!(app.service.send_due_mail().await.unwrap(), 0);
    assert_eq!(queued(&app, "verify_email").await[0].attempts, 2);
}

#[tokio::test]
async fn a_refused_login_keeps_the_messages_for_when_the_settings_are_fixed() {
    if !python_tests() {
        return;
    }
    let setup = Setup::new();
    let _server = SmtpServer::start(setup.dir.path(), setup.port);
    let data = tempfile::tempdir().unwrap();
    let wrong = setup.dir.path().join("wrong-password");
    std::fs::write(&wrong, "not the password").unwrap();
    std::fs::set_permissions(&wrong, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let config = Config {
        smtp_password_file: Some(wrong),
        ..setup.config(data.path(), true)
    };
    let app = TestApp::with_config(config, data).await;
    register_alice(&app).await;
    assert_eq!(app.service.send_due_mail().await.unwrap(), 0);
    let kept = queued(&app, "verify_email").await;
    assert!(kept[0].sealed.is_some(), "kept: {kept:?}");
    assert!(
        kept[0].last_error.as_deref().unwrap().contains("535"),
        "{kept:?}"
    );
    assert!(messages_in(&setup.inbox()).is_empty());
}
