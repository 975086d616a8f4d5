//! Moving users over from a Python app: bcrypt hashes, plain and `password + PEPPER`.

use http::StatusCode;

use super::support::*;
use palisade_service::config::Redacted;

const PEPPER: &str = "settings.py-PEPPER-value";

fn python_bcrypt_csv(path: &std::path::Path) -> bool {
    if std::env::var("PALISADE_PYTHON_TESTS").as_deref() != Ok("1") {
        eprintln!("SKIPPED user import: set PALISADE_PYTHON_TESTS=1 (needs python3 with bcrypt)");
        return false;
    }
    let script = r#"
import bcrypt, csv, sys
PEPPER = sys.argv[2].encode()
with open(sys.argv[1], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["username", "email", "password_hash", "display_name"])
    w.writerow(["plainuser", "plain@example.com", bcrypt.hashpw(b"old plain password", bcrypt.gensalt(4)).decode(), ""])
    w.writerow(["pepperuser", "pepper@example.com", bcrypt.hashpw(b"old peppered password" + PEPPER, bcrypt.gensalt(5)).decode(), "Doe, Jane"])
    w.writerow(["bademail", "not-an-email", bcrypt.hashpw(b"x", bcrypt.gensalt(4)).decode(), ""])
    w.writerow(["md5user", "md5@example.com", "5f4dcc3b5aa765d61d8327deb882cf99", ""])
"#;
    let status = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .arg(PEPPER)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "python3 with bcrypt is required when PALISADE_PYTHON_TESTS=1"
    );
    true
}

#[tokio::test]
async fn imported_users_log_in_and_move_to_argon2id() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("users.csv");
    if !python_bcrypt_csv(&csv) {
        return;
    }
    let mut config = test_config(dir.path(), None);
    config.legacy_bcrypt_pepper = Some(Redacted::new(PEPPER.into()));
    let app = TestApp::with_config(config.clone(), tempfile::tempdir().unwrap()).await;
    let admin = palisade_service::admin::Admin::open(&config).await.unwrap();
    let rows = || palisade_service::admin::read_import_file(&csv).unwrap();
    let report = admin.import(rows(), 1).await.unwrap();
    let lines: Vec<u64> = report.skipped.iter().map(|(line, _)| *line).collect();
    assert_eq!(lines, [4, 5], "invalid rows are reported by line");
    assert!(
        report
            .skipped
            .iter()
            .all(|(_, why)| !why.contains("5f4dcc3b")),
        "never the hash: {:?}",
        report.skipped
    );
    let users = app.users().await.unwrap();
    assert_eq!(users.len(), 2, "only the valid rows");
    assert_eq!(users[1].display_name.as_deref(), Some("Doe, Jane"));
    // A re-run duplicates nobody.
    let again = admin.import(rows(), 1).await.unwrap();
    assert_eq!((again.inserted, again.present), (0, 2));
    assert_eq!(app.users().await.unwrap().len(), 2);

    assert_eq!(
        app.max_legacy_cost().await.unwrap(),
        5,
        "the slowest imported cost"
    );
    assert_eq!(
        app.login_from("plainuser", "wrong password", "127.0.0.1:1")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let plain = app
        .login_from("plainuser", "old plain password", "127.0.0.1:2")
        .await;
    assert_eq!(plain.status, StatusCode::OK, "plain bcrypt: {}", plain.body);
    let peppered = app
        .login_from("PEPPER@example.com", "old peppered password", "127.0.0.1:3")
        .await;
    assert_eq!(
        peppered.status,
        StatusCode::OK,
        "bcrypt(password + PEPPER): {}",
        peppered.body
    );
    for user in app.users().await.unwrap() {
        assert!(
            user.password_hash
                .as_str()
                .starts_with("$pepper$1$argon2id$"),
            "{} not migrated",
            user.username
        );
    }
    assert_eq!(
        app.max_legacy_cost().await.unwrap(),
        0,
        "no imported hash left: no padding"
    );
    app.login("pepperuser", "old peppered password").await;
}

/// Databases from before the `legacy_cost` column get it filled in by the migration.
#[tokio::test]
async fn the_migration_fills_in_the_cost_of_hashes_imported_earlier() {
    let app = TestApp::sqlite().await;
    let pool = &app.db;
    for (name, hash) in [
        (
            "old-import",
            "$2b$07$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm",
        ),
        (
            "native",
            "$pepper$1$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        ),
    ] {
        sqlx::query("INSERT INTO users (username, email, email_key, password_hash, disabled, created_at, password_changed_at) VALUES ($1, $2, $2, $3, 0, 0, 0)")
            .bind(name)
            .bind(format!("{name}@example.com"))
            .bind(hash)
            .execute(pool)
            .await
            .unwrap();
    }
    assert_eq!(app.max_legacy_cost().await.unwrap(), 0);
    let backfill = include_str!("../../migrations/sqlite/0003_legacy_cost.sql")
        .split(';')
        .find(|s| s.contains("UPDATE users"))
        .unwrap()
        .to_owned();
    sqlx::raw_sql(sqlx::AssertSqlSafe(backfill))
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(app.max_legacy_cost().await.unwrap(), 7);
}
