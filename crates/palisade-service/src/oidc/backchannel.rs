//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): when a session ends, by
//! any path (signing out, a password change, an ended or expired session, a disabled
//! account's sessions ended), each app it signed in to with a `backchannel_logout_uri` is
//! sent a signed `logout_token` naming the `sid` and `sub`.
//!
//! Every instance runs the worker: a sweep finds grants whose session has ended and queues
//! their logouts in the same transaction that marks them (so each is queued once), then the
//! queue is delivered like the mail outbox — leased, retried with backoff, given up after
//! a day — so none is lost to a restart and none goes twice across instances.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{Oidc, random_id};
use crate::error::AppError;

/// How often each instance looks for ended sessions and due deliveries.
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(2);
/// How long a taken delivery is this instance's, seconds.
const LEASE_SECS: i64 = 60;
/// Deliveries given up after this long, seconds.
const GIVE_UP_AFTER: i64 = 86_400;
/// The event a logout token carries.
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Seconds before the `attempts`th retry: 30 s doubling to an hour.
fn backoff(attempts: i64) -> i64 {
    30i64
        .saturating_mul(1 << (attempts - 1).clamp(0, 7))
        .min(3600)
}

/// The provider's worker: back-channel logouts every `SWEEP_EVERY`, and the signing keys'
/// rotation checked every minute (while any client exists).
pub(crate) fn spawn_worker(oidc: Arc<Oidc>) {
    tokio::spawn(async move {
        let mut last_rotation_check = None;
        loop {
            let now = oidc.clock.now();
            if last_rotation_check.is_none_or(|at| now >= at + 60) {
                last_rotation_check = Some(now);
                match oidc.clients.any().await {
                    Ok(true) => {
                        if let Err(e) = oidc.keys.rotate_due().await {
                            tracing::warn!(error = %e, "signing key rotation failed");
                        }
                    }
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "signing key rotation: clients unreadable")
                    }
                }
            }
            if let Err(e) = oidc.backchannel_round().await {
                tracing::warn!(error = %e, "back-channel logout worker: round failed");
            }
            tokio::time::sleep(SWEEP_EVERY).await;
        }
    });
}

/// The clients with a back-channel logout URI.
fn listening(clients: &[std::sync::Arc<super::Client>]) -> HashSet<String> {
    clients
        .iter()
        .filter(|c| c.backchannel_logout_uri.is_some())
        .map(|c| c.id.clone())
        .collect()
}

impl Oidc {
    /// The apps to tell when a user's sessions end (a deletion queues their logouts).
    pub(crate) async fn listening_clients(&self) -> Result<HashSet<String>, AppError> {
        Ok(listening(&self.clients.all().await?))
    }

    /// Queues the logouts of sessions that ended and delivers what is due; returns how
    /// many were delivered.
    pub(crate) async fn backchannel_round(&self) -> Result<usize, AppError> {
        let clients = self.clients.all().await?;
        if clients.is_empty() {
            return Ok(0);
        }
        let listening = listening(&clients);
        let now = self.clock.now();
        self.store
            .queue_logouts_of_ended_sessions(now, self.idle_cutoff(now), |client| {
                listening.contains(client)
            })
            .await?;
        let due = self
            .store
            .take_due_logouts(now, now + LEASE_SECS, 20)
            .await?;
        let mut delivered = 0;
        for logout in due {
            let client = self.clients.get(&logout.client_id).await?;
            let Some((client, uri)) =
                client.and_then(|c| c.backchannel_logout_uri.clone().map(|u| (c, u)))
            else {
                self.store
                    .logout_failed(
                        &logout.id,
                        now,
                        None,
                        "the client is gone, or has no back-channel URI",
                    )
                    .await?;
                continue;
            };
            let mut claims = json!({
                "iss": self.issuer,
                "aud": client.id,
                "iat": now,
                "exp": now + 120,
                "jti": random_id()?,
                "sid": logout.sid,
                "events": { EVENT: {} },
            });
            // A deleted account has no subject any more: the session id alone names what
            // ended (the specification asks for `sub`, `sid` or both).
            if self.store.user_by_id(logout.user_id).await?.is_some() {
                claims["sub"] = self.subject(&client, logout.user_id).await?.into();
            }
            let key = self.keys.signer(client.signing_alg).await?;
            let token = key
                .key
                .sign("logout+jwt", &claims)
                .map_err(|e| AppError::internal(format_args!("{e}")))?;
            let sent = self
                .http
                .post(&uri)
                .form(&[("logout_token", token.as_str())])
                .send()
                .await;
            // A refusal (4xx but 408 and 429) is the app's final word on this logout: the
            // same token again would be refused again. Other failures are retried.
            let (failure, final_word) = match sent {
                Ok(answer) if answer.status().is_success() => (None, false),
                Ok(answer) => {
                    let status = answer.status();
                    let final_word =
                        status.is_client_error() && ![408, 429].contains(&status.as_u16());
                    (Some(format!("the app answered {status}")), final_word)
                }
                Err(e) => (
                    Some(format!(
                        "could not reach the app: {}",
                        palisade::validate::LogSafe::new(&e.to_string())
                    )),
                    false,
                ),
            };
            match failure {
                None => {
                    self.store.logout_sent(&logout.id, self.clock.now()).await?;
                    delivered += 1;
                }
                Some(error) => {
                    let next = (!final_word && now - logout.created_at < GIVE_UP_AFTER)
                        .then(|| now + backoff(logout.attempts));
                    tracing::warn!(client = %client.id, %error, retry = next.is_some(), "back-channel logout not delivered");
                    self.store
                        .logout_failed(&logout.id, now, next, &error)
                        .await?;
                }
            }
        }
        Ok(delivered)
    }
}

#[cfg(test)]
#[test]
fn retries_back_off_from_thirty_seconds_to_an_hour() {
    assert_eq!(backoff(1), 30);
    assert_eq!(backoff(2), 60);
    assert_eq!(backoff(8), 3600);
    assert_eq!(backoff(50), 3600);
}
