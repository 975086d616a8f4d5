//! A plain axum app hardened with one line: `.layer(Shield::new(config))`.
//!
//! ```text
//! cargo run -p palisade --example hardened                 # http://127.0.0.1:8080
//! cargo run -p palisade --example hardened -- --no-shield  # the same app unprotected
//! ```

use std::net::SocketAddr;

use axum::response::Html;
use axum::routing::get;
use axum::{Extension, Router};
use palisade::http::{CspNonce, Shield, ShieldConfig};

async fn index(nonce: Option<Extension<CspNonce>>) -> Html<String> {
    // Without the shield (the benchmark's baseline) there is no nonce.
    let nonce = nonce.map(|n| n.0.to_string()).unwrap_or_default();
    Html(format!(
        "<!doctype html><title>hardened</title><h1>Hello</h1>\
         <script nonce=\"{nonce}\">document.querySelector('h1').textContent += ', script ran';</script>"
    ))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let listen: SocketAddr = args
        .iter()
        .position(|a| a == "--listen")
        .and_then(|i| args.get(i + 1))
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or_else(|| "127.0.0.1:8080".parse().expect("valid"));
    let mut app = Router::new().route("/", get(index));
    if !args.iter().any(|a| a == "--no-shield") {
        // The one line: HTTPS enforcement, security headers, CSP with nonces, CSRF.
        app = app.layer(Shield::new(ShieldConfig::new(
            &format!("http://{listen}"),
            listen,
        )?));
    }
    let listener = tokio::net::TcpListener::bind(listen).await?;
    eprintln!("listening on http://{listen}");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
