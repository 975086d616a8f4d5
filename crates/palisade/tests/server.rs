//! `palisade::http::server::serve` against clients that hold connections: idle and slow
//! clients are cut off at the header deadline, and connections past the limit are closed
//! at once while the ones admitted keep working.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use axum_server::Handle;
use palisade::http::server::{ServerLimits, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn start(limits: ServerLimits) -> SocketAddr {
    let app = Router::new().route("/", get(|| async { "ok" })).route(
        "/echo",
        post(|body: axum::body::Bytes| async move { body.len().to_string() }),
    );
    let handle = Handle::new();
    let listening = handle.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    tokio::spawn(async move { serve(listener, app, None, limits, handle).await.unwrap() });
    listening.listening().await.expect("listening")
}

/// Reads until the server closes the connection (or 20 s pass): what it sent.
async fn read_to_close(stream: &mut TcpStream) -> Option<String> {
    let mut out = Vec::new();
    match tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut out)).await {
        Ok(_) => Some(String::from_utf8_lossy(&out).into_owned()),
        Err(_) => None,
    }
}

async fn get_ok(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return false;
    };
    let request = b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
    if stream.write_all(request).await.is_err() {
        return false;
    }
    read_to_close(&mut stream)
        .await
        .is_some_and(|r| r.starts_with("HTTP/1.1 200"))
}

fn short_limits() -> ServerLimits {
    ServerLimits {
        header_read_timeout: Duration::from_secs(1),
        body_read_timeout: Duration::from_secs(2),
        ..ServerLimits::default()
    }
}

#[tokio::test]
async fn a_client_trickling_headers_is_cut_off_at_the_deadline() {
    let addr = start(short_limits()).await;
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let trickle = async {
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if slow.write_all(b"x-a: b\r\n").await.is_err() {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(3), trickle).await;
    let answer = read_to_close(&mut slow)
        .await
        .expect("the server must close a connection whose headers never end");
    assert!(!answer.contains("200 OK"), "{answer}");
    assert!(get_ok(addr).await, "a normal client is served meanwhile");
}

#[tokio::test]
async fn an_idle_connection_is_closed() {
    let addr = start(short_limits()).await;
    let mut idle = TcpStream::connect(addr).await.unwrap();
    let answer = read_to_close(&mut idle)
        .await
        .expect("an idle connection must be closed");
    assert!(!answer.contains("200"), "{answer}");
}

#[tokio::test]
async fn a_body_trickling_past_its_deadline_is_refused() {
    let addr = start(short_limits()).await;
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(
        b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\nconnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let trickle = async {
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if slow.write_all(b"x").await.is_err() {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(4), trickle).await;
    let answer = read_to_close(&mut slow).await.expect("closed");
    assert!(!answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn connections_past_the_limit_are_closed_and_the_admitted_ones_work() {
    let limits = ServerLimits {
        max_connections: 4,
        ..ServerLimits::default()
    };
    let addr = start(limits).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let stream = TcpStream::connect(addr).await.unwrap();
        held.push(stream);
    }
    // Let the server accept the four before the fifth arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(addr).await.unwrap();
    let _ = extra
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await;
    let answer = read_to_close(&mut extra).await.expect("closed at once");
    assert!(
        answer.is_empty(),
        "the fifth connection was served: {answer}"
    );
    // An admitted connection is served.
    let first = &mut held[0];
    first
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(first).await.expect("answered");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Once connections close, new ones are admitted again.
    held.clear();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(get_ok(addr).await);
}

#[tokio::test]
async fn requests_with_ambiguous_framing_are_refused_not_smuggled() {
    let addr = start(short_limits()).await;
    // Each would let a front proxy and this server disagree on where the request ends:
    // what one sees as body, the other would run as a second request. Refused (400), or
    // for Content-Length beside chunked, answered by the chunked framing and the connection
    // closed (RFC 9112 §6.3) — never a second answer.
    let attacks: [&[u8]; 4] = [
        b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\ncontent-length: 40\r\n\r\nGET / HTTP/1.1\r\nhost: x\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\nhost: x\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked, identity\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\nhost: x\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: +4\r\n\r\nGET / HTTP/1.1\r\nhost: x\r\n\r\n",
    ];
    for attack in attacks {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(attack).await.unwrap();
        let answer = read_to_close(&mut stream).await.expect("closed");
        let answers = answer.matches("HTTP/1.1 ").count();
        assert!(
            answers == 1
                && (answer.starts_with("HTTP/1.1 400")
                    || answer.to_ascii_lowercase().contains("connection: close")),
            "{:?} was answered: {answer}",
            String::from_utf8_lossy(attack)
        );
    }
}
