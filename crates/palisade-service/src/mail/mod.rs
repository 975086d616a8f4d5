//! Mail: messages are queued in the outbox in the transaction of the change they tell of
//! (`Mailer::letter` seals one for the store), and a background worker on every instance
//! sends what is due ([`spawn_sender`]), retrying with backoff. Taking a message is one
//! atomic statement (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so no two workers take the
//! same one; once sent, its bodies are erased.

pub(crate) mod messages;
mod transport;

use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use palisade::secret::Keyring;
use palisade::validate::LogSafe;
use tokio::sync::Notify;

pub(crate) use messages::Content;
pub(crate) use transport::Transport;
use transport::{Outgoing, SendError};

use crate::clock::Clock;
use crate::config::Config;
use crate::error::AppError;
use crate::sessions::{hex, random_bytes};
use crate::store::{NewMail, Store};

/// Messages one worker takes at a time.
const BATCH: i64 = 10;
/// How long a taken message is this worker's alone: beyond every send of a batch
/// (`BATCH` × the SMTP timeout), so no other instance sends it meanwhile.
const LEASE_SECS: i64 = 600;
/// How often a worker looks for due messages when nothing woke it.
const POLL: Duration = Duration::from_secs(5);
/// A notice is worth sending for three days; a message with a link, while the link works.
pub(crate) const NOTICE_SECS: i64 = 3 * 24 * 3600;
/// Sent or given-up messages are remembered this long (that they went, not what they said).
const KEEP_RECORDS_SECS: i64 = 30 * 24 * 3600;

pub(crate) struct Mailer {
    store: Store,
    clock: Clock,
    transport: Transport,
    from: Mailbox,
    /// Seals the bodies in the outbox, opens them to send.
    keyring: Arc<Keyring>,
    site_name: String,
    origin: String,
    /// Woken when this instance queued something, so it goes at once.
    wake: Arc<Notify>,
}

/// The associated data a message's sealed bodies are bound to: its row, and nothing else.
fn aad(id: &str) -> Vec<u8> {
    format!("outbox\0{id}").into_bytes()
}

impl Mailer {
    pub(crate) fn new(
        config: &Config,
        store: Store,
        clock: Clock,
        keyring: Arc<Keyring>,
    ) -> Result<Self, String> {
        let transport = Transport::from_config(config)?;
        let from = sender(config)?;
        Ok(Self {
            store,
            clock,
            transport,
            from,
            keyring,
            site_name: config.site_name.clone(),
            origin: config.origin(),
            wake: Arc::default(),
        })
    }

    /// Where mail goes, to tell the operator at start.
    pub(crate) fn describe(&self) -> String {
        self.transport.describe()
    }

    pub(crate) fn site_name(&self) -> &str {
        &self.site_name
    }

    /// The address of a page of this service, for a link in a message.
    pub(crate) fn link(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.origin)
    }

    /// A message to `to`, rendered and sealed, for the store to queue in the transaction
    /// of its change; worth sending for `valid_secs`.
    pub(crate) fn letter(
        &self,
        user_id: Option<i64>,
        to: &str,
        content: &Content,
        valid_secs: i64,
    ) -> Result<NewMail, AppError> {
        let id = hex(&random_bytes::<16>()?);
        let (text, html) = content
            .render(&self.site_name)
            .map_err(|e| AppError::internal(format_args!("mail template: {e}")))?;
        let bodies = serde_json::to_vec(&(text, html))
            .map_err(|e| AppError::internal(format_args!("mail: {e}")))?;
        let bodies = zeroize::Zeroizing::new(bodies);
        let sealed = self
            .keyring
            .seal(&bodies, &aad(&id))
            .map_err(|e| AppError::internal(format_args!("sealing mail: {e}")))?;
        let key_id = palisade::secret::sealed_key_id(&sealed)
            .unwrap_or_default()
            .to_owned();
        let now = self.clock.now();
        Ok(NewMail {
            id,
            user_id,
            kind: content.kind,
            recipient: to.to_owned(),
            subject: content.subject.clone(),
            sealed,
            key_id,
            created_at: now,
            discard_after: now + valid_secs,
        })
    }

    /// After a transaction queued a message: this instance's worker sends it now.
    pub(crate) fn queued(&self) {
        self.wake.notify_one();
    }

    /// Sends every message due now, batch by batch; returns how many went.
    pub(crate) async fn send_due(&self) -> Result<usize, AppError> {
        let mut sent = 0;
        loop {
            let now = self.clock.now();
            let due = self
                .store
                .take_due_mail(now, now + LEASE_SECS, BATCH)
                .await?;
            if due.is_empty() {
                return Ok(sent);
            }
            for mail in due {
                let outcome = self.send_one(&mail).await;
                let now = self.clock.now();
                match outcome {
                    Ok(()) => {
                        self.store.mail_sent(&mail.id, now).await?;
                        metrics::counter!("palisade_mail_total", "outcome" => "sent").increment(1);
                        tracing::info!(id = mail.id, kind = mail.kind, "mail sent");
                        sent += 1;
                    }
                    Err(SendError::Transient(why)) if now < mail.discard_after => {
                        let retry_at = (now + backoff(mail.attempts)).min(mail.discard_after);
                        let why = LogSafe::new(&why).to_string();
                        tracing::warn!(
                            id = mail.id,
                            kind = mail.kind,
                            attempts = mail.attempts,
                            error = why,
                            retry_in = retry_at - now,
                            "mail not sent; will retry"
                        );
                        metrics::counter!("palisade_mail_total", "outcome" => "retry").increment(1);
                        self.store.mail_retry(&mail.id, retry_at, &why).await?;
                    }
                    Err(e) => {
                        let why = LogSafe::new(&e.to_string()).to_string();
                        tracing::error!(
                            id = mail.id,
                            kind = mail.kind,
                            attempts = mail.attempts,
                            error = why,
                            "mail given up"
                        );
                        metrics::counter!("palisade_mail_total", "outcome" => "given_up")
                            .increment(1);
                        self.store.mail_given_up(&mail.id, now, &why).await?;
                    }
                }
            }
        }
    }

    async fn send_one(&self, mail: &crate::store::DueMail) -> Result<(), SendError> {
        let opened = self
            .keyring
            .open(&mail.sealed, &aad(&mail.id))
            .map_err(|_| {
                SendError::Permanent("the message does not open with the loaded keys".into())
            })?;
        let (text, html): (String, String) = opened
            .expose(|b| serde_json::from_slice::<(String, String)>(b))
            .map_err(|_| SendError::Permanent("the message is damaged".into()))?;
        let outgoing = Outgoing {
            id: &mail.id,
            to: &mail.recipient,
            subject: &mail.subject,
            text,
            html,
        };
        self.transport.send(&self.from, outgoing).await
    }

    /// Forgets old records of sent and given-up messages.
    pub(crate) async fn forget_old(&self) -> Result<u64, AppError> {
        Ok(self
            .store
            .delete_old_mail(self.clock.now() - KEEP_RECORDS_SECS)
            .await?)
    }
}

/// `mail_from`, or the default the `.eml` files may use.
fn sender(config: &Config) -> Result<Mailbox, String> {
    match &config.mail_from {
        Some(from) => from
            .parse::<Mailbox>()
            .map_err(|e| format!("configuration: mail_from: {e}")),
        None if config.smtp_host.is_some() => {
            Err("configuration: smtp_host needs mail_from (the sender's address)".into())
        }
        None => Ok(Mailbox::new(
            Some(config.site_name.clone()),
            "noreply@localhost".parse().expect("a valid address"),
        )),
    }
}

/// Sends a test message to `to` at once, past the outbox (`palisade mail test`). Returns
/// where it went; an error is the transport's own (refused certificate, authentication,
/// connection) or names the setting at fault.
pub(crate) async fn send_test(config: &Config, to: &str) -> Result<String, String> {
    let transport = Transport::from_config(config)?;
    let from = sender(config)?;
    let content = Content::test(&config.site_name);
    let (text, html) = content
        .render(&config.site_name)
        .map_err(|e| e.to_string())?;
    let id = hex(&random_bytes::<16>().map_err(|e| e.to_string())?);
    let mail = Outgoing {
        id: &id,
        to,
        subject: &content.subject,
        text,
        html,
    };
    transport
        .send(&from, mail)
        .await
        .map_err(|e| e.to_string())?;
    Ok(transport.describe())
}

/// Seconds before the next attempt after `attempts`: 30 s doubling, at most an hour.
fn backoff(attempts: i64) -> i64 {
    30_i64
        .saturating_mul(1 << attempts.clamp(1, 8).saturating_sub(1))
        .min(3600)
}

/// Starts this instance's worker: sends what is due when woken, and every few seconds.
pub(crate) fn spawn_sender(mail: Arc<Mailer>) {
    tokio::spawn(async move {
        let wake = mail.wake.clone();
        loop {
            if let Err(e) = mail.send_due().await {
                tracing::warn!(error = %e, "mail worker: the outbox could not be read");
            }
            let _ = tokio::time::timeout(POLL, wake.notified()).await;
        }
    });
}

#[cfg(test)]
#[test]
fn backoff_doubles_from_thirty_seconds_to_an_hour() {
    assert_eq!(backoff(1), 30);
    assert_eq!(backoff(2), 60);
    assert_eq!(backoff(3), 120);
    assert_eq!(backoff(8), 3600);
    assert_eq!(backoff(100), 3600);
}
