//! `palisade scan`: the best grade for palisade's own defaults, and hostile servers that get
//! a clear error instead of a hang or a panic.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_palisade");

/// Runs `palisade scan`, killing it (and failing) if it outlives a generous bound.
fn scan(args: &[&str]) -> Output {
    let mut child = Command::new(BIN)
        .arg("scan")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("palisade scan {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

struct Server(Child, SocketAddr);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &Path, extra_env: &[(&str, String)]) -> Server {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    let mut addr = None;
    for _ in 0..20 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(rest) = line.trim().strip_prefix("listening on ") {
            addr = Some(rest.split(' ').next().unwrap().parse().unwrap());
            break;
        }
    }
    std::thread::spawn(move || {
        let mut sink = String::new();
        let _ = reader.read_to_string(&mut sink);
    });
    Server(child, addr.expect("server started"))
}

#[test]
fn palisade_serve_defaults_get_the_best_grade() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[]);
    let out = scan(&[&format!("http://{}/login", server.1), "--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["grade"], "A+", "{report:#}");
    assert_eq!(report["score"], 100);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn tls_with_a_private_ca_and_an_untrusted_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let issued = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, issued.cert.pem()).unwrap();
    std::fs::write(&key, issued.signing_key.serialize_pem()).unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let env = [
        ("PALISADE_TLS_CERT", cert.display().to_string()),
        ("PALISADE_TLS_KEY", key.display().to_string()),
    ];
    let server = serve(&dir.path().join("data"), &env);
    let url = format!("https://localhost:{}/login", server.1.port());
    let untrusted = scan(&[&url]);
    assert_eq!(untrusted.status.code(), Some(2));
    let err = String::from_utf8_lossy(&untrusted.stderr);
    assert!(
        err.contains("certificate") && err.contains("--ca-file"),
        "{err}"
    );
    let trusted = scan(&[
        &url,
        "--ca-file",
        cert.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&trusted.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&trusted.stderr)));
    assert_eq!(report["grade"], "A+", "{report:#}");
}

/// A raw TCP server that answers every connection with `respond`, for a bounded time.
fn hostile(respond: fn(TcpStream)) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(20).flatten() {
            std::thread::spawn(move || respond(stream));
        }
    });
    addr
}

fn read_request(stream: &mut TcpStream) {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 4096];
    let _ = stream.read(&mut buf);
}

fn expect_clear_error(addr: SocketAddr, args: &[&str], words: &[&str]) {
    let url = format!("http://{addr}/");
    let mut all = vec![url.as_str()];
    all.extend_from_slice(args);
    let out = scan(&all);
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("palisade: "), "{err}");
    assert!(
        words.iter().any(|w| err.to_lowercase().contains(w)),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn endless_headers() {
    let addr = hostile(|mut s| {
        read_request(&mut s);
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\n");
        for i in 0..1_000_000 {
            if s.write_all(format!("X-Junk-{i}: {}\r\n", "v".repeat(64)).as_bytes())
                .is_err()
            {
                return;
            }
        }
    });
    expect_clear_error(addr, &[], &["header", "message", "error"]);
}

#[test]
fn redirect_loop() {
    let addr = hostile(|mut s| {
        read_request(&mut s);
        let _ = s.write_all(b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    });
    expect_clear_error(addr, &[], &["redirect"]);
}

#[test]
fn a_server_that_never_answers_times_out() {
    let addr = hostile(|mut s| {
        read_request(&mut s);
        std::thread::sleep(Duration::from_secs(20));
    });
    expect_clear_error(addr, &["--timeout", "2"], &["timed out", "timeout"]);
}

#[test]
fn a_huge_body_is_cut_not_swallowed() {
    let addr = hostile(|mut s| {
        read_request(&mut s);
        let _ = s.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000000000\r\n\r\n",
        );
        let chunk = vec![b'a'; 64 * 1024];
        for _ in 0..1_000_000 {
            if s.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let out = scan(&[&format!("http://{addr}/"), "--format", "text"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("body cut at"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("grade F"), "no headers at all: {text}");
    assert_eq!(
        out.status.code(),
        Some(1),
        "below the default --fail-below B"
    );
}
