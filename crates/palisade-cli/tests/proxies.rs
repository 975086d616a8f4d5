//! Forward-auth through real reverse proxies (nginx `auth_request`, Caddy `forward_auth`,
//! HAProxy with `deploy/haproxy/palisade.lua`),
//! configured exactly as docs/forward-auth.md shows, each protecting an upstream that echoes the
//! headers it received, with `palisade serve` beside them, all on loopback. The proxies
//! are Debian packages; without them the test is SKIPPED (and fails under CI=true).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_palisade");
const PASSWORD: &str = "gravel orbit violet canteen";

/// A child process killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An upstream app that answers every request with the request's headers, one per line.
fn echo_upstream() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    head.push_str(&line.to_ascii_lowercase());
                }
                let body = format!("upstream saw:\n{head}");
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}

struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// A minimal HTTP/1.1 client (the headers exactly as given, no cookie jar).
fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    Reply {
        status: head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
        || Command::new(program)
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
}

fn skip(program: &str) -> bool {
    if have(program) {
        return false;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{program} is not installed (CI=true): apt-get install nginx-light caddy haproxy"
    );
    eprintln!("SKIPPED: {program} is not installed (apt-get install nginx-light caddy haproxy)");
    true
}

/// `palisade serve` on `port` protecting the apps at 127.0.0.1 by these rules.
fn palisade(dir: &Path, port: u16) -> Running {
    let config = dir.join("palisade.toml");
    std::fs::write(
        &config,
        format!(
            r#"
public_origin = "http://127.0.0.1:{port}"
trusted_proxies = ["127.0.0.1"]
argon2_memory_kib = 1024
argon2_iterations = 1

[access_control]
default_policy = "deny"

[[access_control.rules]]
domain = "127.0.0.1"
resources = ["/public/.*"]
policy = "bypass"

[[access_control.rules]]
domain = "127.0.0.1"
resources = ["/admin(/.*)?"]
subject = "group:admins"
policy = "authenticated"

[[access_control.rules]]
domain = "127.0.0.1"
resources = ["/admin(/.*)?"]
policy = "deny"

[[access_control.rules]]
domain = "127.0.0.1"
policy = "authenticated"
"#
        ),
    )
    .unwrap();
    let child = Command::new(BIN)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .args(["serve", "--config", config.to_str().unwrap()])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let running = Running(child);
    wait_for(port, "palisade");
    running
}

fn palisade_cli(dir: &Path, args: &[&str]) {
    let config = dir.join("palisade.toml");
    let status = Command::new(BIN)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .args(args)
        .args(["--config", config.to_str().unwrap()])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "palisade {args:?}");
}

/// The proxy configurations, as docs/forward-auth.md gives them (ports filled in).
fn config_block(name: &str) -> String {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/forward-auth.md"),
    )
    .unwrap();
    let start = text
        .find(&format!("<!-- {name} -->"))
        .unwrap_or_else(|| panic!("docs/forward-auth.md has no {name} block"));
    let block = &text[start..];
    let block = &block[block.find("```").unwrap() + 3..];
    let block = &block[block.find('\n').unwrap() + 1..];
    block[..block.find("```").unwrap()].to_owned()
}

fn fill(template: &str, proxy: u16, palisade: u16, upstream: u16) -> String {
    template
        .replace("app.example.com", &format!("127.0.0.1:{proxy}"))
        .replace("accounts.internal:8080", &format!("127.0.0.1:{palisade}"))
        .replace("app.internal:3000", &format!("127.0.0.1:{upstream}"))
}

fn nginx(dir: &Path, proxy: u16, palisade: u16, upstream: u16) -> Running {
    let site = fill(&config_block("nginx"), proxy, palisade, upstream)
        .replace("listen 443 ssl;", &format!("listen 127.0.0.1:{proxy};"));
    let prefix = dir.join("nginx");
    std::fs::create_dir_all(prefix.join("logs")).unwrap();
    let conf = prefix.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "daemon off;\nworker_processes 1;\npid {p}/nginx.pid;\nerror_log {p}/logs/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n  fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n{site}\n}}\n",
            p = prefix.display()
        ),
    )
    .unwrap();
    let child = Command::new("nginx")
        .args(["-p", prefix.to_str().unwrap(), "-c", conf.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let running = Running(child);
    wait_for(proxy, "nginx");
    running
}

fn caddy(dir: &Path, proxy: u16, palisade: u16, upstream: u16) -> Running {
    let site = fill(&config_block("caddy"), proxy, palisade, upstream).replacen(
        &format!("127.0.0.1:{proxy} {{"),
        &format!("http://127.0.0.1:{proxy} {{"),
        1,
    );
    let file = dir.join("Caddyfile");
    std::fs::write(
        &file,
        format!("{{\n  admin off\n  auto_https off\n}}\n{site}"),
    )
    .unwrap();
    let child = Command::new("caddy")
        .args([
            "run",
            "--config",
            file.to_str().unwrap(),
            "--adapter",
            "caddyfile",
        ])
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let running = Running(child);
    wait_for(proxy, "caddy");
    running
}

fn haproxy(dir: &Path, proxy: u16, palisade: u16, upstream: u16) -> Running {
    let lua = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/haproxy/palisade.lua");
    let block = config_block("haproxy")
        .replace("/etc/haproxy/palisade.lua", lua.to_str().unwrap())
        .replace(
            "bind :443 ssl crt /etc/haproxy/app.example.com.pem",
            &format!("bind 127.0.0.1:{proxy}"),
        );
    let config = fill(&block, proxy, palisade, upstream);
    let file = dir.join("haproxy.cfg");
    std::fs::write(&file, config).unwrap();
    let child = Command::new("haproxy")
        .args(["-db", "-f", file.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let running = Running(child);
    wait_for(proxy, "haproxy");
    running
}

/// The same story through each proxy.
fn story(dir: &Path, proxy: u16, palisade_port: u16, login_status: u16) {
    let html = ("Accept", "text/html,application/xhtml+xml,*/*;q=0.8");
    let json = ("Accept", "application/json");
    let home = format!("http://127.0.0.1:{palisade_port}");

    // Not logged in: a browser is sent to the login page, with the way back.
    let reply = http(proxy, "GET", "/page?x=1", &[html], "");
    assert_eq!(reply.status, login_status, "{}\n{}", reply.head, reply.body);
    let rd = format!("http%3A%2F%2F127.0.0.1%3A{proxy}%2Fpage%3Fx%3D1");
    assert_eq!(
        reply.header("location"),
        Some(&*format!("{home}/login?rd={rd}"))
    );
    // An API client gets 401, never a login page.
    let reply = http(proxy, "GET", "/api/items", &[json], "");
    assert_eq!(reply.status, 401, "{}", reply.head);
    assert!(reply.header("location").is_none());
    // The bypassed path reaches the app with nobody named, whatever the client claims.
    let reply = http(
        proxy,
        "GET",
        "/public/a.css",
        &[html, ("Remote-User", "admin")],
        "",
    );
    assert_eq!(reply.status, 200, "{}", reply.head);
    assert!(!reply.body.contains("remote-user: admin"), "{}", reply.body);
    // A client describing another request itself changes nothing.
    let spoof = [
        html,
        ("X-Original-URL", "http://127.0.0.1/public/x"),
        ("X-Original-Method", "GET"),
        ("X-Forwarded-Uri", "/public/x"),
        ("X-Forwarded-Method", "GET"),
        ("X-Forwarded-Host", "127.0.0.1"),
    ];
    let reply = http(proxy, "GET", "/admin", &spoof, "");
    assert_eq!(reply.status, login_status, "{}\n{}", reply.head, reply.body);

    // Log in through the login page with the way back: it leads back to the app.
    let login_form = format!(
        "identifier=durable&password={}&rd={rd}",
        PASSWORD.replace(' ', "+")
    );
    let origin = ("Origin", home.as_str());
    let form = ("Content-Type", "application/x-www-form-urlencoded");
    let reply = http(
        palisade_port,
        "POST",
        "/login",
        &[origin, form],
        &login_form,
    );
    assert_eq!(reply.status, 303, "{}\n{}", reply.head, reply.body);
    assert_eq!(
        reply.header("location"),
        Some(&*format!("http://127.0.0.1:{proxy}/page?x=1"))
    );
    let cookie = reply
        .head
        .lines()
        .filter_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .find(|c| c.starts_with("__Host-palisade-session="))
        .expect("a session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let with_cookie = ("Cookie", cookie.as_str());
    let reply = http(
        proxy,
        "GET",
        "/page",
        &[html, with_cookie, ("Remote-User", "admin")],
        "",
    );
    assert_eq!(reply.status, 200, "{}\n{}", reply.head, reply.body);
    assert!(
        reply.body.contains("remote-user: durable\r\n"),
        "{}",
        reply.body
    );
    assert_eq!(
        reply.body.matches("remote-user:").count(),
        1,
        "{}",
        reply.body
    );

    // Denied by group, allowed once in it.
    let reply = http(proxy, "GET", "/admin", &[html, with_cookie], "");
    assert_eq!(reply.status, 403, "{}", reply.head);
    palisade_cli(dir, &["user", "group", "add", "durable", "admins"]);
    // The CLI is another process: palisade sees its change within a second.
    let started = std::time::Instant::now();
    let reply = loop {
        let reply = http(proxy, "GET", "/admin", &[html, with_cookie], "");
        if reply.status != 403 || started.elapsed() > std::time::Duration::from_secs(1) {
            break reply;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(reply.status, 200, "{}", reply.head);
    assert!(
        reply.body.contains("remote-groups: admins\r\n"),
        "{}",
        reply.body
    );
    palisade_cli(dir, &["user", "group", "remove", "durable", "admins"]);

    // Logging out once logs out of every app.
    let token = cookie.split_once('=').unwrap().1;
    let bearer = format!("Bearer {token}");
    let reply = http(
        palisade_port,
        "POST",
        "/api/v1/logout",
        &[origin, ("Authorization", &bearer)],
        "",
    );
    assert_eq!(reply.status, 204, "{}", reply.head);
    let reply = http(proxy, "GET", "/page", &[html, with_cookie], "");
    assert_eq!(reply.status, login_status, "{}", reply.head);
}

fn register(palisade_port: u16) {
    let origin = format!("http://127.0.0.1:{palisade_port}");
    let reply = http(
        palisade_port,
        "POST",
        "/api/v1/register",
        &[("Origin", &origin), ("Content-Type", "application/json")],
        &format!(
            r#"{{"username":"durable","email":"durable@example.com","password":"{PASSWORD}"}}"#
        ),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
}

#[test]
fn nginx_auth_request() {
    if skip("nginx") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (proxy, palisade_port, upstream) = (free_port(), free_port(), echo_upstream());
    let palisade_server = palisade(dir.path(), palisade_port);
    let _nginx = nginx(dir.path(), proxy, palisade_port, upstream);
    register(palisade_port);
    story(dir.path(), proxy, palisade_port, 302);
    unreachable_means_closed(palisade_server, proxy);
}

#[test]
fn caddy_forward_auth() {
    if skip("caddy") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (proxy, palisade_port, upstream) = (free_port(), free_port(), echo_upstream());
    let palisade_server = palisade(dir.path(), palisade_port);
    let _caddy = caddy(dir.path(), proxy, palisade_port, upstream);
    register(palisade_port);
    story(dir.path(), proxy, palisade_port, 302);
    unreachable_means_closed(palisade_server, proxy);
}

#[test]
fn haproxy_lua_forward_auth() {
    if skip("haproxy") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (proxy, palisade_port, upstream) = (free_port(), free_port(), echo_upstream());
    let palisade_server = palisade(dir.path(), palisade_port);
    let _haproxy = haproxy(dir.path(), proxy, palisade_port, upstream);
    register(palisade_port);
    story(dir.path(), proxy, palisade_port, 302);
    unreachable_means_closed(palisade_server, proxy);
}

/// With palisade out of reach, the proxy lets nothing through.
fn unreachable_means_closed(palisade: Running, proxy: u16) {
    drop(palisade);
    for path in ["/page", "/public/a.css", "/admin"] {
        let reply = http(proxy, "GET", path, &[("Accept", "text/html")], "");
        assert!(
            reply.status == 403 || reply.status >= 500,
            "{path} with palisade down: {}\n{}",
            reply.head,
            reply.body
        );
        assert!(!reply.body.contains("upstream saw"), "{}", reply.body);
    }
}
