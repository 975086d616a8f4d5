//! What the binary's tests share: running `palisade`, starting `serve`, a minimal HTTP
//! client.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_palisade");

pub fn palisade(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .env_remove("DATABASE_URL")
        .env("PALISADE_ARGON2_MEMORY_KIB", "1024")
        .env("PALISADE_ARGON2_ITERATIONS", "1");
    cmd
}

pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub banner: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start(dir: &Path, extra: &[&str]) -> Server {
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
pub fn http(addr: SocketAddr, method: &str, path: &str, json: Option<&str>) -> (u16, String) {
    http_from(None, addr, method, path, json)
}

/// [`http`] from a chosen loopback address (127.0.x.y), to be one of many clients.
pub fn http_from(
    source: Option<std::net::Ipv4Addr>,
    addr: SocketAddr,
    method: &str,
    path: &str,
    json: Option<&str>,
) -> (u16, String) {
    let mut stream = match source {
        None => TcpStream::connect(addr).unwrap(),
        Some(source) => {
            let socket =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            socket.bind(&SocketAddr::from((source, 0)).into()).unwrap();
            socket.connect(&addr.into()).unwrap();
            socket.into()
        }
    };
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
