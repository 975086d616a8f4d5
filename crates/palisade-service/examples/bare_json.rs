//! The benchmark baseline: a bare axum JSON handler, no database, no shield.
//! `cargo run --release -p palisade-service --example bare_json -- 127.0.0.1:18190`

use axum::routing::get;
use axum::{Json, Router};

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18190".into());
    let app = Router::new().route(
        "/api/v1/me",
        get(|| async { Json(serde_json::json!({"id": 1, "username": "bench", "email": "bench@example.com", "display_name": null, "created_at": 0})) }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
