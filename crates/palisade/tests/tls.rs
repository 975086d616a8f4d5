//! Native TLS: ALPN, TLS 1.2 and 1.3, certificate reload without dropping connections.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use axum_server::Handle;
use palisade::http::server::{ServerLimits, serve};
use palisade::http::tls::{ReloadingTls, TlsError};
use palisade::http::{ClientInfo, Shield, ShieldConfig};

fn write_cert(dir: &Path, name: &str) -> rcgen::Certificate {
    let issued = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
    std::fs::write(dir.join("cert.pem"), issued.cert.pem()).unwrap();
    let key = dir.join("key.pem");
    std::fs::write(&key, issued.signing_key.serialize_pem()).unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    issued.cert
}

fn client(trust: &rcgen::Certificate, addr: SocketAddr, max_tls12: bool) -> reqwest::Client {
    let cert = reqwest::Certificate::from_pem(trust.pem().as_bytes()).unwrap();
    let mut builder = reqwest::Client::builder()
        .tls_certs_only([cert])
        .resolve("localhost", addr);
    if max_tls12 {
        builder = builder.tls_version_max(reqwest::tls::Version::TLS_1_2);
    }
    builder.build().unwrap()
}

async fn start(tls: Arc<ReloadingTls>) -> (SocketAddr, Handle<SocketAddr>) {
    let app = Router::new()
        .route(
            "/",
            get(|info: ClientInfo| async move { format!("https={}", info.https) }),
        )
        .layer(Shield::new(
            ShieldConfig::new("https://localhost", "127.0.0.1:0".parse().unwrap()).unwrap(),
        ));
    let handle = Handle::new();
    let server_handle = handle.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    tokio::spawn(async move {
        serve(
            listener,
            app,
            Some(&tls),
            ServerLimits::default(),
            server_handle,
        )
        .await
        .unwrap()
    });
    let addr = handle.listening().await.expect("listening");
    (addr, handle)
}

#[tokio::test]
async fn serves_h2_and_tls12_and_reloads_without_dropping_connections() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let first = write_cert(dir.path(), "localhost");
    let tls =
        ReloadingTls::load(&dir.path().join("cert.pem"), &dir.path().join("key.pem")).unwrap();
    let (addr, handle) = start(tls.clone()).await;
    let url = format!("https://localhost:{}/", addr.port());

    let old_client = client(&first, addr, false);
    let response = old_client.get(&url).send().await.unwrap();
    assert_eq!(
        response.version(),
        reqwest::Version::HTTP_2,
        "ALPN negotiates h2"
    );
    assert!(response.headers().contains_key("strict-transport-security"));
    assert_eq!(response.text().await.unwrap(), "https=true");

    let tls12 = client(&first, addr, true).get(&url).send().await.unwrap();
    assert_eq!(tls12.status(), 200, "TLS 1.2 is accepted");

    // New certificate on disk; reload.
    let second = write_cert(dir.path(), "localhost");
    tls.reload().unwrap();
    let new_client = client(&second, addr, false);
    assert_eq!(
        new_client
            .get(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "https=true"
    );
    // A client that trusts only the old certificate cannot make a new connection...
    assert!(client(&first, addr, false).get(&url).send().await.is_err());
    // ...but its existing h2 connection was not dropped.
    assert_eq!(
        old_client
            .get(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "https=true"
    );

    // A broken file on reload keeps the current certificate.
    std::fs::write(
        dir.path().join("cert.pem"),
        "-----BEGIN CERTIFICATE-----\ngarbage\n",
    )
    .unwrap();
    assert!(tls.reload().is_err());
    assert_eq!(
        client(&second, addr, false)
            .get(&url)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    handle.shutdown();
}

#[test]
fn world_readable_or_missing_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_cert(dir.path(), "localhost");
    let key = dir.path().join("key.pem");
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let err = ReloadingTls::load(&dir.path().join("cert.pem"), &key).unwrap_err();
    assert!(matches!(err, TlsError::KeyWorldReadable(_)), "{err}");
    assert!(matches!(
        ReloadingTls::load(&dir.path().join("nope.pem"), &key),
        Err(TlsError::Io { .. }) | Err(TlsError::KeyWorldReadable(_))
    ));
    // Mismatched key and certificate.
    let other = tempfile::tempdir().unwrap();
    write_cert(other.path(), "localhost");
    let err = ReloadingTls::load(&dir.path().join("cert.pem"), &other.path().join("key.pem"))
        .unwrap_err();
    assert!(matches!(err, TlsError::Rustls(_)), "{err}");
}
