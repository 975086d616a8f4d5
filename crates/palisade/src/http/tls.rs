//! Native TLS with rustls: PEM files, TLS 1.2 and 1.3 only, ALPN for h2 and http/1.1, and
//! certificate reloading without dropping connections.
//!
//! The certificate and key are re-read when their files change (checked every few seconds)
//! or on `SIGHUP`. A reload only changes what *new* handshakes present: connections already
//! established keep going. A reload that fails (a half-written file, a key that does not
//! match) keeps the previous certificate and logs why.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum_server::tls_rustls::RustlsConfig;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why TLS could not be set up. Names the file; never contains key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("TLS file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The file holds no PEM item of the expected kind.
    #[error("TLS file {0}: no PEM certificate or private key found")]
    NoPem(PathBuf),
    /// The private key file can be read by every local user.
    #[error("TLS key {0} is readable by other users: run `chmod 600` on it")]
    KeyWorldReadable(PathBuf),
    /// rustls refused the certificate and key (for instance, they do not match).
    #[error("TLS certificate and key refused: {0}")]
    Rustls(String),
}

/// A TLS configuration loaded from PEM files, reloadable in place.
#[derive(Debug)]
pub struct ReloadingTls {
    cert: PathBuf,
    key: PathBuf,
    config: RustlsConfig,
    stamps: Mutex<(Option<SystemTime>, Option<SystemTime>)>,
}

impl ReloadingTls {
    /// Loads the certificate chain and key. Fails when either is missing or invalid.
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<Self>, TlsError> {
        let config = build(cert, key)?;
        Ok(Arc::new(Self {
            cert: cert.to_owned(),
            key: key.to_owned(),
            config: RustlsConfig::from_config(config),
            stamps: Mutex::new((modified(cert), modified(key))),
        }))
    }

    /// The configuration handed to the TLS acceptor.
    pub fn rustls_config(&self) -> RustlsConfig {
        self.config.clone()
    }

    /// Re-reads the files now. On error the current certificate stays in use.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = build(&self.cert, &self.key)?;
        self.config.reload_from_config(config);
        *self.stamps.lock().unwrap_or_else(|e| e.into_inner()) =
            (modified(&self.cert), modified(&self.key));
        Ok(())
    }

    /// Reloads when a file's modification time changed since the last load.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let now = (modified(&self.cert), modified(&self.key));
        if *self.stamps.lock().unwrap_or_else(|e| e.into_inner()) == now {
            return Ok(false);
        }
        self.reload().map(|()| true)
    }

    /// Spawns a task that reloads on file change (polled every `every`) and on `SIGHUP`.
    pub fn spawn_reloader(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let tls = self.clone();
        tokio::spawn(async move {
            #[cfg(unix)]
            let mut hangup =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
            let mut tick = tokio::time::interval(every);
            loop {
                #[cfg(unix)]
                let forced = match hangup.as_mut() {
                    Some(signal) => tokio::select! {
                        _ = tick.tick() => false,
                        _ = signal.recv() => true,
                    },
                    None => {
                        tick.tick().await;
                        false
                    }
                };
                #[cfg(not(unix))]
                let forced = {
                    tick.tick().await;
                    false
                };
                let result = if forced {
                    tls.reload().map(|()| true)
                } else {
                    tls.reload_if_changed()
                };
                match result {
                    Ok(true) => {
                        tracing::info!(cert = %tls.cert.display(), "TLS certificate reloaded")
                    }
                    Ok(false) => {}
                    Err(error) => {
                        tracing::error!(%error, "TLS reload failed; keeping the current certificate")
                    }
                }
            }
        })
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn build(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Io {
            path: path.to_owned(),
            source,
        })
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(key).map_err(|source| TlsError::Io {
            path: key.to_owned(),
            source,
        })?;
        if meta.permissions().mode() & 0o004 != 0 {
            return Err(TlsError::KeyWorldReadable(key.to_owned()));
        }
    }
    let cert_pem = read(cert)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|_| TlsError::NoPem(cert.to_owned()))?;
    if chain.is_empty() {
        return Err(TlsError::NoPem(cert.to_owned()));
    }
    let key_pem = zeroize::Zeroizing::new(read(key)?);
    let private =
        PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| TlsError::NoPem(key.to_owned()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
