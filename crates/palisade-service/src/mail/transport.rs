//! Where messages go: an SMTP server over verified TLS, or `.eml` files in a directory.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use palisade::secret::SecretString;

use crate::config::{Config, SmtpTls};

/// How long one SMTP exchange may take before it counts as failed (and is retried).
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// A message ready to go.
pub(crate) struct Outgoing<'a> {
    pub(crate) id: &'a str,
    pub(crate) to: &'a str,
    pub(crate) subject: &'a str,
    pub(crate) text: String,
    pub(crate) html: String,
}

/// Why a message did not go.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    /// It never can (a recipient address the server cannot take, a message that cannot be
    /// built): given up at once.
    #[error("{0}")]
    Permanent(String),
    /// It may later (server down, refused certificate, temporary refusal): retried.
    #[error("{0}")]
    Transient(String),
}

pub(crate) enum Transport {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// `host:port (starttls)`, to tell the operator.
        describe: String,
    },
    Files(PathBuf),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Transport {
    /// The transport the configuration asks for: SMTP when `smtp_host` is set, else files
    /// in `<data_dir>/outbox/`. Errors name the setting.
    pub(crate) fn from_config(config: &Config) -> Result<Self, String> {
        let Some(host) = &config.smtp_host else {
            return Ok(Transport::Files(config.data_dir.join("outbox")));
        };
        let mut tls = TlsParameters::builder(host.clone());
        if let Some(path) = &config.smtp_ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| format!("configuration: smtp_ca_file: {}: {e}", path.display()))?;
            let certificate = Certificate::from_pem(&pem).map_err(|_| {
                format!(
                    "configuration: smtp_ca_file: {} holds no PEM certificate",
                    path.display()
                )
            })?;
            tls = tls.add_root_certificate(certificate);
        }
        let tls = tls
            .build_rustls()
            .map_err(|e| format!("configuration: smtp_host: TLS: {e}"))?;
        let (tls, default_port, mode) = match config.smtp_tls {
            SmtpTls::Starttls => (Tls::Required(tls), 587, "starttls"),
            SmtpTls::Tls => (Tls::Wrapper(tls), 465, "tls"),
        };
        let port = config.smtp_port.unwrap_or(default_port);
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .tls(tls)
            .timeout(Some(SMTP_TIMEOUT));
        if let Some(user) = &config.smtp_username {
            let password = smtp_password(config)?;
            // lettre keeps its own copy for the life of the transport.
            builder = builder
                .credentials(password.expose(|p| Credentials::new(user.clone(), p.to_owned())));
        }
        Ok(Transport::Smtp {
            transport: builder.build(),
            describe: format!("SMTP at {host}:{port} ({mode})"),
        })
    }

    /// What it is, safe to print.
    pub(crate) fn describe(&self) -> String {
        match self {
            Transport::Smtp { describe, .. } => describe.clone(),
            Transport::Files(dir) => format!(".eml files in {}", dir.display()),
        }
    }

    pub(crate) async fn send(&self, from: &Mailbox, mail: Outgoing<'_>) -> Result<(), SendError> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e| SendError::Permanent(format!("recipient address: {e}")))?;
        let domain = from.email.domain().to_owned();
        let message = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(mail.subject)
            .message_id(Some(format!("<{}@{domain}>", mail.id)))
            .multipart(MultiPart::alternative_plain_html(mail.text, mail.html))
            .map_err(|e| SendError::Permanent(format!("message: {e}")))?;
        match self {
            Transport::Smtp { transport, .. } => match transport.send(message).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_permanent() && !refused_sender(&e) => {
                    Err(SendError::Permanent(smtp_error(&e)))
                }
                Err(e) => Err(SendError::Transient(smtp_error(&e))),
            },
            Transport::Files(dir) => write_eml(dir, mail.id, message.formatted())
                .await
                .map_err(|e| SendError::Transient(format!("{}: {e}", dir.display()))),
        }
    }
}

/// A permanent refusal of this service rather than of the message — authentication
/// required or failed (530, 534, 535, 538), or sending not allowed (554 before any
/// recipient is far less common and is left permanent): the operator fixes the settings,
/// and the messages wait for that instead of being lost.
fn refused_sender(e: &lettre::transport::smtp::Error) -> bool {
    e.status()
        .is_some_and(|code| matches!(u16::from(code), 530 | 534 | 535 | 538))
}

/// An SMTP failure with its cause (lettre's own message leaves out why TLS failed).
fn smtp_error(e: &lettre::transport::smtp::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Writes `<dir>/<id>.eml`, readable by its owner only (a message may hold a reset link).
/// A file already there is the same message written before (a retry after a crash).
async fn write_eml(dir: &std::path::Path, id: &str, bytes: Vec<u8>) -> std::io::Result<()> {
    let path = dir.join(format!("{id}.eml"));
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
        let mut file = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
            Err(e) => return Err(e),
        };
        file.write_all(&bytes)?;
        file.sync_all()
    })
    .await
    .map_err(std::io::Error::other)?
}

/// The SMTP password, from its sealed token or its file.
fn smtp_password(config: &Config) -> Result<SecretString, String> {
    if let Some(token) = &config.smtp_password_token {
        return crate::keys::open_setting_token(config, "smtp_password_token", token);
    }
    let Some(path) = &config.smtp_password_file else {
        return Err(
            "configuration: smtp_username needs smtp_password_token or smtp_password_file".into(),
        );
    };
    palisade::secret::ensure_private_file(path)
        .map_err(|e| format!("configuration: smtp_password_file: {e}"))?;
    let bytes = std::fs::read(path)
        .map_err(|e| format!("configuration: smtp_password_file: {}: {e}", path.display()))?;
    let text = SecretString::from_utf8(palisade::secret::SecretBytes::new(bytes))
        .ok_or_else(|| "configuration: smtp_password_file does not hold UTF-8 text".to_owned())?;
    // A trailing newline is the editor's, not the password's.
    Ok(text.expose(|t| SecretString::new(t.trim_end_matches(['\r', '\n']).to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An address that smuggles a header: refused before anything is written.
    #[tokio::test]
    async fn a_recipient_with_a_line_break_never_reaches_the_headers() {
        let dir = tempfile::tempdir().unwrap();
        let transport = Transport::Files(dir.path().join("outbox"));
        let from: Mailbox = "a@example.com".parse().unwrap();
        for to in [
            "victim@example.com\r\nBcc: thief@example.com",
            "victim@example.com\nBcc: thief@example.com",
            "\"x\r\nBcc: thief@example.com\" <victim@example.com>",
        ] {
            let mail = Outgoing {
                id: "m",
                to,
                subject: "s",
                text: "t".into(),
                html: "h".into(),
            };
            let refused = transport.send(&from, mail).await;
            assert!(
                matches!(refused, Err(SendError::Permanent(_))),
                "{to:?}: {refused:?}"
            );
        }
        assert!(!dir.path().join("outbox").exists());
        // A good one goes, with the recipient in one header line.
        let mail = Outgoing {
            id: "ok",
            to: "victim@example.com",
            subject: "s",
            text: "t".into(),
            html: "h".into(),
        };
        transport.send(&from, mail).await.unwrap();
        let written = std::fs::read_to_string(dir.path().join("outbox/ok.eml")).unwrap();
        assert!(written.contains("To: victim@example.com\r\n") && !written.contains("Bcc"));
    }
}
