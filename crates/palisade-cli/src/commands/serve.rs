//! `palisade serve`: build the service and run its listeners until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

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
    let built = build(&config).await?;
    built.spawn_cleanup();

    match (config.tls_cert.clone(), config.tls_key.clone()) {
        (Some(cert), Some(key)) => {
            let tls = palisade::http::tls::ReloadingTls::load(&cert, &key)
                .map_err(|e| format!("configuration: {e}"))?;
            let _reloader = tls.spawn_reloader(Duration::from_secs(10));
            if let Some(redirect) = config.http_redirect_listen {
                let router = palisade::http::redirect_only(&config.origin())
                    .map_err(|e| format!("configuration: {e}"))?;
                let listener = tokio::net::TcpListener::bind(redirect)
                    .await
                    .map_err(|e| format!("listen {redirect}: {e}"))?;
                eprintln!("  redirecting plain HTTP on {redirect}");
                tokio::spawn(async move {
                    let _ = axum::serve(
                        listener,
                        router.into_make_service_with_connect_info::<SocketAddr>(),
                    )
                    .await;
                });
            }
            let listener = std::net::TcpListener::bind(config.listen)
                .map_err(|e| format!("listen {}: {e}", config.listen))?;
            // With port 0 the origin (and so the CSRF check) must name the real port.
            config.listen = listener.local_addr().map_err(|e| e.to_string())?;
            let app = built.router(&config)?;
            let handle = axum_server::Handle::new();
            let stopper = handle.clone();
            tokio::spawn(async move {
                shutdown_signal().await;
                stopper.graceful_shutdown(Some(Duration::from_secs(10)));
            });
            announce(&config, &built);
            palisade::http::tls::serve_https(listener, app, &tls, handle)
                .await
                .map_err(|e| format!("listen {}: {e}", config.listen))?;
        }
        _ => {
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .map_err(|e| format!("listen {}: {e}", config.listen))?;
            // With port 0 the origin (and so the CSRF check) must name the real port.
            config.listen = listener.local_addr().map_err(|e| e.to_string())?;
            let app = built.router(&config)?;
            announce(&config, &built);
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(|e| format!("server: {e}"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
