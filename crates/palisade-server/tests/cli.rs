//! The `palisade` binary: start-up, configuration errors, durability, user commands.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_palisade");

fn palisade(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .env_remove("DATABASE_URL")
        .env("PALISADE_ARGON2_MEMORY_KIB", "1024")
        .env("PALISADE_ARGON2_ITERATIONS", "1");
    cmd
}

struct Server {
    child: Child,
    addr: SocketAddr,
    banner: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path, extra: &[&str]) -> Server {
    let mut child = palisade(dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    let mut banner = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut addr = None;
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0 && Instant::now() < deadline,
            "server did not start: {banner}"
        );
        banner.push_str(&line);
        if let Some(rest) = line.trim().strip_prefix("listening on ") {
            addr = Some(rest.split(' ').next().unwrap().parse().unwrap());
        }
        if line.trim().starts_with("database:") {
            break;
        }
    }
    let addr = addr.expect("the banner names the address");
    std::thread::spawn(move || {
        let mut sink = String::new();
        let _ = reader.read_to_string(&mut sink);
    });
    Server {
        child,
        addr,
        banner,
    }
}

/// A minimal HTTP/1.1 client: the test needs no TLS and no cookies.
fn http(addr: SocketAddr, method: &str, path: &str, json: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let body = json.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    (status, response)
}

const REGISTER: &str = r#"{"username":"durable","email":"durable@example.com","password":"gravel orbit violet canteen"}"#;
const LOGIN: &str = r#"{"identifier":"durable","password":"gravel orbit violet canteen"}"#;

#[test]
fn serve_starts_with_no_configuration_and_keeps_acknowledged_writes_across_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path(), &[]);
    assert!(
        server.banner.contains("data directory palisade-data"),
        "{}",
        server.banner
    );
    assert!(
        server
            .banner
            .contains("SQLite at palisade-data/palisade.db"),
        "{}",
        server.banner
    );
    assert_eq!(http(server.addr, "GET", "/healthz", None).0, 200);
    for file in ["pepper", "keys", "palisade.db"] {
        let mode = std::fs::metadata(dir.path().join("palisade-data").join(file))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{file}");
    }
    assert_eq!(
        http(server.addr, "POST", "/api/v1/register", Some(REGISTER)).0,
        201
    );
    // SIGKILL right after the acknowledgement: no chance to flush anything.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let server = start(dir.path(), &[]);
    let (status, body) = http(server.addr, "POST", "/api/v1/login", Some(LOGIN));
    assert_eq!(status, 200, "{body}");
}

#[test]
fn configuration_errors_name_the_setting_and_exit_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let run = |cmd: &mut Command| {
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        String::from_utf8(out.stderr).unwrap()
    };
    let err = run(palisade(dir.path())
        .args(["serve"])
        .env("PALISADE_SESSION_IDLE_MINUTES", "0"));
    assert!(err.contains("session_idle_minutes"), "{err}");
    let err = run(palisade(dir.path()).args(["serve", "--config", "missing.toml"]));
    assert!(err.contains("missing.toml"), "{err}");
    std::fs::write(dir.path().join("bad.toml"), "lisen = \"0.0.0.0:80\"\n").unwrap();
    let err = run(palisade(dir.path()).args(["serve", "--config", "bad.toml"]));
    assert!(err.contains("lisen"), "{err}");
    std::fs::write(
        dir.path().join("public.toml"),
        "listen = \"0.0.0.0:8080\"\n",
    )
    .unwrap();
    let err = run(palisade(dir.path()).args(["serve", "--config", "public.toml"]));
    assert!(
        err.contains("tls_cert") && err.contains("not loopback"),
        "{err}"
    );
    let err = run(palisade(dir.path())
        .args(["serve"])
        .env("DATABASE_URL", "postgres://u:TOPSECRET@db.example.com/x"));
    assert!(
        err.contains("sslmode=verify-full") && !err.contains("TOPSECRET"),
        "{err}"
    );
}

#[test]
fn user_commands() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    assert_eq!(
        http(server.addr, "POST", "/api/v1/register", Some(REGISTER)).0,
        201
    );
    assert_eq!(
        http(server.addr, "POST", "/api/v1/login", Some(LOGIN)).0,
        200
    );
    let run = |args: &[&str]| {
        let out = palisade(dir.path()).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (code, out, _) = run(&["user", "list"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("durable") && out.contains("active"), "{out}");
    let (code, out, _) = run(&["user", "disable", "durable"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("ended 1 sessions"), "{out}");
    assert_eq!(
        http(server.addr, "POST", "/api/v1/login", Some(LOGIN)).0,
        401
    );
    assert_eq!(run(&["user", "enable", "durable"]).0, Some(0));
    assert_eq!(
        http(server.addr, "POST", "/api/v1/login", Some(LOGIN)).0,
        200
    );
    assert_eq!(run(&["user", "end-sessions", "durable"]).0, Some(0));
    // Lock the account out from this address, then unlock it.
    let wrong = r#"{"identifier":"durable","password":"wrong wrong wrong"}"#;
    for _ in 0..7 {
        http(server.addr, "POST", "/api/v1/login", Some(wrong));
    }
    assert_eq!(
        http(server.addr, "POST", "/api/v1/login", Some(LOGIN)).0,
        429
    );
    let (code, out, _) = run(&["user", "unlock", "durable"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        http(server.addr, "POST", "/api/v1/login", Some(LOGIN)).0,
        200
    );
    let (code, _, err) = run(&["user", "disable", "nobody"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no user named nobody"), "{err}");
}
