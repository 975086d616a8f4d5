//! Every ten minutes, deletes expired sessions, pending logins and WebAuthn challenges,
//! second factors never confirmed, reset and address links, old outbox records, and stale
//! throttle counters. All are refused or ignored
//! on use anyway; this only keeps the tables small.

use std::time::Duration;

use crate::accounts::Accounts;

/// Starts the cleanup task with the handles it needs (the store, the clock, the outbox).
pub(crate) fn spawn_cleanup(accounts: &Accounts) {
    let forget_after = accounts.throttle.forget_after as i64;
    let idle = accounts.sessions.policy().idle_secs;
    let store = accounts.store.clone();
    let clock = accounts.clock.clone();
    let mail = accounts.mail.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            let now = clock.now();
            if let Err(e) = store.delete_expired_sessions(now, now - idle).await {
                tracing::warn!(error = %e, "session cleanup failed");
            }
            if let Err(e) = store.delete_expired_pending_logins(now).await {
                tracing::warn!(error = %e, "pending login cleanup failed");
            }
            if let Err(e) = store.delete_expired_challenges(now).await {
                tracing::warn!(error = %e, "WebAuthn challenge cleanup failed");
            }
            let unconfirmed = now - crate::mfa::CONFIRM_WITHIN_SECS;
            if let Err(e) = store.delete_unconfirmed_factors(unconfirmed).await {
                tracing::warn!(error = %e, "unconfirmed second factor cleanup failed");
            }
            if let Err(e) = store.delete_expired_resets(now).await {
                tracing::warn!(error = %e, "reset link cleanup failed");
            }
            if let Err(e) = store.delete_expired_email_tokens(now).await {
                tracing::warn!(error = %e, "address link cleanup failed");
            }
            if let Err(e) = store.delete_expired_signups(now).await {
                tracing::warn!(error = %e, "sign-up link cleanup failed");
            }
            if let Err(e) = store.delete_old_reservations(now).await {
                tracing::warn!(error = %e, "deleted usernames' reservation cleanup failed");
            }
            let unseen = now - crate::accounts::browsers::BROWSER_DAYS * 24 * 3600;
            if let Err(e) = store.forget_browsers(unseen).await {
                tracing::warn!(error = %e, "known browser cleanup failed");
            }
            if let Err(e) = mail.forget_old().await {
                tracing::warn!(error = %e, "outbox cleanup failed");
            }
            if let Err(e) = store.delete_expired_oidc_rows(now).await {
                tracing::warn!(error = %e, "OpenID provider cleanup failed");
            }
            if let Err(e) = store.delete_old_logouts(now - 30 * 86_400).await {
                tracing::warn!(error = %e, "back-channel logout cleanup failed");
            }
            // Never before the hourly second-factor allowance has run out.
            let forget_after = forget_after.max(3600);
            if let Err(e) = store.delete_stale_counters(now - forget_after).await {
                tracing::warn!(error = %e, "throttle cleanup failed");
            }
        }
    });
}
