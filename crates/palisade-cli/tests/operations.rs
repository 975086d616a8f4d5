//! What operators run beside `serve`: `config check`, `backup` and `restore`, shell
//! completions and man pages.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{http_from, palisade, start};

#[test]
fn config_check_names_every_problem_at_once_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        concat!(
            "session_idle_minutes = 0\n",
            "accent_colour = \"blue\"\n",
            "tls_cert = \"missing-cert.pem\"\n",
            "authz_listen = \"127.0.0.1:9091\"\n",
            "database_url = \"postgres://app:Sup3rSecretPassw0rd@127.0.0.1/app\"\n",
            "database_tls_cert = \"nowhere.pem\"\n",
        ),
    )
    .unwrap();
    let out = palisade(dir.path())
        .args(["config", "check", "--config", "bad.toml"])
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{err}");
    for named in [
        "session_idle_minutes must be greater than 0",
        "accent_colour \"blue\"",
        "tls_cert and tls_key must be given together",
        "tls_cert: missing-cert.pem is not a file",
        "authz_listen needs trusted_proxies",
        "database_tls_cert and database_tls_key must be given together",
        "database_tls_cert: nowhere.pem is not a file",
        "7 problems in the configuration",
    ] {
        assert!(err.contains(named), "missing {named:?} in:\n{err}");
    }
    assert!(!err.contains("Sup3rSecret"), "{err}");
    assert!(
        !dir.path().join("palisade-data").exists(),
        "a check created the data directory"
    );
    // An unknown setting is named too, and a good configuration passes.
    std::fs::write(dir.path().join("typo.toml"), "lisen = \"127.0.0.1:1\"\n").unwrap();
    let out = palisade(dir.path())
        .args(["config", "check", "--config", "typo.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lisen"));
    std::fs::write(
        dir.path().join("good.toml"),
        "site_name = \"Example\"\naccent_colour = \"#0b7a55\"\n",
    )
    .unwrap();
    let out = palisade(dir.path())
        .args(["config", "check", "--config", "good.toml"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("configuration is valid"));
}

#[test]
fn completions_and_man_pages_come_from_the_parser() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = palisade(dir.path())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        for word in ["serve", "backup", "restore", "rotate-signing"] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
    let out = palisade(dir.path())
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = palisade(dir.path()).args(["man", "man"]).output().unwrap();
    assert!(out.status.success());
    let page = std::fs::read_to_string(dir.path().join("man/palisade.1")).unwrap();
    assert!(
        page.starts_with(".ie") || page.contains(".TH palisade"),
        "{page}"
    );
    for sub in ["serve", "backup", "restore", "config"] {
        assert!(page.contains(sub), "palisade.1 does not list {sub}");
        assert!(dir.path().join(format!("man/palisade-{sub}.1")).is_file());
    }
    let serve = std::fs::read_to_string(dir.path().join("man/palisade-serve.1")).unwrap();
    assert!(serve.contains("listen"), "{serve}");
}

const PASSWORD: &str = "gravel orbit violet canteen";

/// Each account from its own loopback address: registration is throttled per address.
fn register(addr: std::net::SocketAddr, writer: u8, n: u32, name: &str) -> u16 {
    let body =
        format!(r#"{{"username":"{name}","email":"{name}@example.com","password":"{PASSWORD}"}}"#);
    let source = std::net::Ipv4Addr::new(127, 10 + writer, (n / 250) as u8, (n % 250 + 1) as u8);
    http_from(Some(source), addr, "POST", "/api/v1/register", Some(&body)).0
}

/// Each sign-in from its own loopback address: sign-ins are throttled per address.
fn login(addr: std::net::SocketAddr, i: usize, name: &str) -> u16 {
    let body = format!(r#"{{"identifier":"{name}","password":"{PASSWORD}"}}"#);
    let source = std::net::Ipv4Addr::new(127, 50, (i / 250) as u8, (i % 250 + 1) as u8);
    http_from(Some(source), addr, "POST", "/api/v1/login", Some(&body)).0
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A backup taken while accounts are being made holds every account acknowledged before
/// it began, and the restored service signs those people in.
#[test]
fn a_backup_under_registration_load_restores_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let addr = server.addr;
    let acknowledged: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4u8)
        .map(|w| {
            let acknowledged = acknowledged.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let name = format!("load{w}x{n}");
                    let status = register(addr, w, n, &name);
                    assert_eq!(status, 201, "{name}");
                    acknowledged.lock().unwrap().push((name, Instant::now()));
                    n += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let began = Instant::now();
    let out = palisade(dir.path())
        .args(["backup", "copy.db"])
        .output()
        .unwrap();
    let ended = Instant::now();
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.join().unwrap();
    }
    drop(server);
    let acknowledged = acknowledged.lock().unwrap().clone();
    let before: BTreeSet<_> = acknowledged
        .iter()
        .filter(|(_, at)| *at < began)
        .map(|(name, _)| name.clone())
        .collect();
    let after: Vec<_> = acknowledged
        .iter()
        .filter(|(_, at)| *at > ended + Duration::from_millis(200))
        .map(|(name, _)| name.clone())
        .collect();
    assert!(
        before.len() >= 8,
        "too little load to prove anything: {}",
        before.len()
    );
    for file in ["copy.db", "copy.db.keys", "copy.db.pepper"] {
        assert_eq!(mode(&dir.path().join(file)), 0o600, "{file}");
    }
    // Nothing is ever overwritten.
    let again = palisade(dir.path())
        .args(["backup", "copy.db"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwrites"));

    let out = palisade(dir.path())
        .args(["restore", "copy.db", "--data-dir", "restored"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&dir.path().join("restored")), 0o700);
    for file in ["palisade.db", "keys", "pepper"] {
        assert_eq!(
            mode(&dir.path().join("restored").join(file)),
            0o600,
            "{file}"
        );
    }
    // A restore never lands on a data directory in use.
    let out = palisade(dir.path())
        .args(["restore", "copy.db", "--data-dir", "palisade-data"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty data directory"));

    let restored = start(dir.path(), &["--data-dir", "restored"]);
    for (i, name) in before.iter().enumerate() {
        assert_eq!(
            login(restored.addr, i, name),
            200,
            "{name} was acknowledged before the backup"
        );
    }
    for (i, name) in after.iter().take(5).enumerate() {
        assert_eq!(
            login(restored.addr, 1000 + i, name),
            401,
            "{name} came after the backup ended"
        );
    }
    eprintln!(
        "backup: {} accounts acknowledged before it began, all restored; {} after it ended, none in it; {report}",
        before.len(),
        after.len()
    );
}
