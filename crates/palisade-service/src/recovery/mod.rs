//! Password reset by mail. Asking answers the same, in the same time, whether or not the
//! address belongs to anyone: the lookup and the message happen after the answer. The link
//! carries a 256-bit token (only its hash stored), works once, for 15 minutes, and a newer
//! request replaces it; opening it shows a form, and only that form's POST uses it up. A
//! reset never gets past an enrolled second factor: the new password is refused until a
//! code (or passkey) from it is given. It ends every session and API token of the account.

pub(crate) mod api;
pub(crate) mod pages;

use palisade::http::ClientInfo;
use palisade::password::user_words;
use palisade::secret::SecretString;
use palisade::throttle::client_key;
use palisade::validate::{Email, Password, Username};

use crate::accounts::keys;
use crate::error::AppError;
use crate::mail::{Content, Mailer};
use crate::mfa::Proof;
use crate::mfa::passkeys::Binding;
use crate::sessions::{IssuedToken, PresentedToken};
use crate::state::AppState;
use crate::store::{Store, UserRow};

/// How long a reset link works, seconds.
pub(crate) const RESET_SECS: i64 = 15 * 60;
/// Reset messages one address may be sent per hour (whether or not it has an account:
/// counted alike).
pub(crate) const RESETS_PER_HOUR: u32 = 3;
const HOUR: i64 = 3600;

/// The page a reset link opens.
pub(crate) fn link_path(token: &IssuedToken) -> String {
    token.expose(|t| format!("/password/reset?token={t}"))
}

/// Asks for a reset link for `email`. Refused only for a malformed address or a client
/// past its rate; otherwise the answer is the same for every address, and the message (if
/// the address has an account, under its hourly allowance) is queued after it.
pub(crate) async fn request(
    state: &AppState,
    email: &str,
    client: &ClientInfo,
) -> Result<(), AppError> {
    let email = Email::parse(email)?;
    let accounts = &state.accounts;
    accounts
        .rate(&keys::client_resets(&client_key(client.addr)), client)
        .await?;
    let background = accounts.background.clone();
    let state = state.clone();
    let client = *client;
    background.spawn(async move {
        if let Err(e) = send_link(&state, &email, &client).await {
            // Logged where it was made (5xx) or of no concern to anyone (a refusal).
            tracing::debug!(error = %e, "reset link not sent");
        }
    });
    Ok(())
}

/// Behind the answer: counts the address's allowance, then queues a link if it has an
/// enabled account.
async fn send_link(state: &AppState, email: &Email, client: &ClientInfo) -> Result<(), AppError> {
    let accounts = &state.accounts;
    let email_key = email.comparison_key();
    let now = accounts.clock.now();
    let counter = accounts
        .store
        .count_attempt(&keys::address_resets(&email_key), now, HOUR)
        .await?;
    let user = accounts.store.user_by_login("", &email_key).await?;
    if counter.failures > RESETS_PER_HOUR {
        let id = user.as_ref().map(|u| u.id);
        metrics::counter!("palisade_throttled_total").increment(1);
        accounts
            .audit(
                "throttled",
                id,
                Some(email.as_str()),
                Some(client),
                Some("reset"),
            )
            .await;
        return Ok(());
    }
    let Some(user) = user.filter(|u| u.disabled == 0) else {
        return Ok(());
    };
    queue_link(&accounts.mail, &accounts.store, &user, now).await?;
    accounts
        .audit(
            "password_reset_requested",
            Some(user.id),
            Some(&user.username),
            Some(client),
            None,
        )
        .await;
    Ok(())
}

/// Stores a new reset link for `user` (older ones stop working) and queues the message
/// that carries it, in one transaction.
pub(crate) async fn queue_link(
    mail: &Mailer,
    store: &Store,
    user: &UserRow,
    now: i64,
) -> Result<(), AppError> {
    let token = IssuedToken::generate()?;
    let content = Content::password_reset(
        mail.site_name(),
        &user.username,
        mail.link(&link_path(&token)),
        RESET_SECS / 60,
    );
    let letter = mail.letter(Some(user.id), &user.email, &content, RESET_SECS)?;
    let hash = token.expose(crate::sessions::token_hash);
    store
        .put_password_reset(user.id, &hash, now, now + RESET_SECS, Some(&letter))
        .await?;
    mail.queued();
    Ok(())
}

/// What the account behind a current reset link will ask for besides the new password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Asks {
    Nothing,
    /// A code or recovery code…
    SecondFactor {
        /// …or one of its passkeys.
        passkey: bool,
    },
}

/// What a reset link's page needs to know: whether the link is current (`None`: it is
/// not), and what the account will ask for. Uses nothing up.
pub(crate) async fn inspect(
    state: &AppState,
    token: &PresentedToken,
) -> Result<Option<Asks>, AppError> {
    let Some(hash) = token.hash() else {
        return Ok(None);
    };
    let store = &state.accounts.store;
    let Some(user_id) = store
        .password_reset_user(&hash, state.accounts.clock.now())
        .await?
    else {
        return Ok(None);
    };
    if !store.has_second_factor(user_id).await? {
        return Ok(Some(Asks::Nothing));
    }
    let passkey = state.mfa.passkeys_available() && !store.passkeys_of(user_id).await?.is_empty();
    Ok(Some(Asks::SecondFactor { passkey }))
}

/// The options for a passkey to prove the second factor of the reset behind `token`.
pub(crate) async fn passkey_challenge(
    state: &AppState,
    token: &PresentedToken,
) -> Result<webauthn_rs::prelude::RequestChallengeResponse, AppError> {
    let hash = token.hash().ok_or(AppError::LinkExpired)?;
    let user_id = state
        .accounts
        .store
        .password_reset_user(&hash, state.accounts.clock.now())
        .await?
        .ok_or(AppError::LinkExpired)?;
    state
        .mfa
        .passkey_challenge(user_id, Binding::Reset(&hash))
        .await
}

/// Sets a new password through the link behind `token`: checked against the policy, then
/// (when the account has one) its second factor, then the link is used up with the change,
/// in one transaction. Every session, pending login and API token of the account ends; a
/// notice goes to its address. Returns the user.
pub(crate) async fn complete(
    state: &AppState,
    token: &PresentedToken,
    new_password: SecretString,
    proof: Option<Proof>,
    client: &ClientInfo,
) -> Result<UserRow, AppError> {
    let accounts = &state.accounts;
    let new = Password::from_secret(new_password)
        .map_err(|e| AppError::Invalid(e.for_field("new_password")))?;
    accounts
        .rate(&keys::client_resets(&client_key(client.addr)), client)
        .await?;
    let hash = token.hash().ok_or(AppError::LinkExpired)?;
    let now = accounts.clock.now();
    let user = match accounts.store.password_reset_user(&hash, now).await? {
        Some(id) => accounts.store.user_by_id(id).await?,
        None => None,
    }
    .filter(|u| u.disabled == 0)
    .ok_or(AppError::LinkExpired)?;
    let username = Username::parse(&user.username).ok();
    let email = Email::parse(&user.email).ok();
    let words = user_words(
        username.as_ref(),
        email.as_ref(),
        user.display_name.as_deref(),
    );
    accounts
        .policy
        .check(&new, &words)
        .map_err(AppError::WeakPassword)?;
    if accounts.store.has_second_factor(user.id).await? {
        let proof = proof.ok_or(AppError::SecondFactorRequired)?;
        state
            .mfa
            .check_throttled(
                accounts,
                &state.keyring,
                &user,
                &proof,
                Binding::Reset(&hash),
                client,
            )
            .await?;
    }
    let new_hash = accounts.timed_hash(new).await?;
    let content = Content::password_changed(&state.accounts.site_name, &user.username, true);
    let notice = state.accounts.mail.letter(
        Some(user.id),
        &user.email,
        &content,
        crate::mail::NOTICE_SECS,
    )?;
    let done = accounts
        .store
        .complete_password_reset(&hash, user.id, &new_hash, accounts.clock.now(), &notice)
        .await?
        .ok_or(AppError::LinkExpired)?;
    state.accounts.mail.queued();
    let detail = format!(
        "ended {} sessions, revoked {} API tokens",
        done.sessions_ended, done.tokens_revoked
    );
    accounts
        .audit(
            "password_reset",
            Some(user.id),
            Some(&user.username),
            Some(client),
            Some(&detail),
        )
        .await;
    Ok(user)
}
