//! `palisade serve`: build the service and run its listeners until SIGINT or SIGTERM.

use std::process::ExitCode;
use std::time::Duration;

use axum_server::Handle;
use palisade::http::server::serve;
use palisade::http::tls::ReloadingTls;
use palisade_service::{Config, Service, build};

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn announce(config: &Config, built: &Service) {
    eprintln!(
        "palisade {} serving {}",
        env!("CARGO_PKG_VERSION"),
        config.origin()
    );
    let tls = if config.tls_cert.is_some() {
        " (TLS)"
    } else {
        ""
    };
    eprintln!("  listening on {}{tls}", config.listen);
    eprintln!("  data directory {}", config.data_dir.display());
    eprintln!("  database: {}", built.database());
    for note in built.notes() {
        eprintln!("  {note}");
    }
}

pub(crate) async fn run(mut config: Config) -> Result<ExitCode, String> {
    let listener = std::net::TcpListener::bind(config.listen)
        .map_err(|e| format!("listen {}: {e}", config.listen))?;
    // With port 0 the origin (the CSRF check, the links in mail) must name the real port.
    config.listen = listener.local_addr().map_err(|e| e.to_string())?;
    let built = build(&config).await?;
    built.spawn_cleanup();
    built.spawn_mailer();
    built.spawn_oidc();
    let limits = config.server_limits();
    let handle = Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        stopper.graceful_shutdown(Some(Duration::from_secs(10)));
    });

    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => {
            let tls = ReloadingTls::load(cert, key).map_err(|e| format!("configuration: {e}"))?;
            Some(tls)
        }
        _ => None,
    };
    let _reloader = tls
        .as_ref()
        .map(|tls| tls.spawn_reloader(Duration::from_secs(10)));
    if let Some(redirect) = config.http_redirect_listen {
        let router = palisade::http::redirect_only(&config.origin())
            .map_err(|e| format!("configuration: {e}"))?;
        let listener =
            std::net::TcpListener::bind(redirect).map_err(|e| format!("listen {redirect}: {e}"))?;
        eprintln!("  redirecting plain HTTP on {redirect}");
        let handle = handle.clone();
        tokio::spawn(async move {
            if let Err(e) = serve(listener, router, None, limits, handle).await {
                tracing::error!(error = %e, "the plain-HTTP redirect listener stopped");
            }
        });
    }
    if let Some(authz) = built.authz_router(&config)? {
        let listen = config
            .authz_listen
            .expect("authz_router is built only with authz_listen");
        let listener =
            std::net::TcpListener::bind(listen).map_err(|e| format!("listen {listen}: {e}"))?;
        eprintln!("  forward-auth endpoints on {listen} only");
        let handle = handle.clone();
        tokio::spawn(async move {
            if let Err(e) = serve(listener, authz, None, limits, handle).await {
                tracing::error!(error = %e, "the forward-auth listener stopped");
            }
        });
    }
    let app = built.router(&config)?;
    announce(&config, &built);
    serve(listener, app, tls.as_deref(), limits, handle)
        .await
        .map_err(|e| format!("listen {}: {e}", config.listen))?;
    Ok(ExitCode::SUCCESS)
}
