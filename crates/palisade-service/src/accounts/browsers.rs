//! Sign-ins from a new browser, told to the owner. Each browser gets a long-lived random
//! cookie at its first sign-in; a sign-in whose browser the account has not seen before
//! (and the account has seen others) queues a notice, at most three an hour per account.
//! The check runs after the answer: a sign-in takes no longer for it.

use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use palisade::http::ClientInfo;

use super::keys;
use crate::error::AppError;
use crate::mail::Content;
use crate::sessions::{IssuedToken, PresentedToken, clean_user_agent};
use crate::state::AppState;
use crate::store::UserRow;

/// The browser's cookie: random, host-only, kept 400 days (the most browsers allow).
pub const BROWSER_COOKIE: &str = "__Host-palisade-browser";
/// How long a browser is remembered, days.
pub(crate) const BROWSER_DAYS: i64 = 400;
/// New-browser notices per account per hour.
pub(crate) const SIGN_IN_NOTICES_PER_HOUR: u32 = 3;
const HOUR: i64 = 3600;

/// After a sign-in started a session: the browser's cookie (made when it has none, or a
/// malformed one) and, behind the answer, a notice to the owner if the browser is new.
pub(crate) fn new_sign_in(
    state: &AppState,
    jar: CookieJar,
    user: &UserRow,
    client: &ClientInfo,
    user_agent: &str,
) -> CookieJar {
    if !state.accounts.notify_new_sign_in {
        return jar;
    }
    let presented = jar
        .get(BROWSER_COOKIE)
        .and_then(|c| PresentedToken::from_cookie_value(c.value()).hash());
    let (jar, hash) = match presented {
        Some(hash) => (jar, hash),
        None => {
            let Ok(token) = IssuedToken::generate() else {
                return jar;
            };
            let cookie = Cookie::build((BROWSER_COOKIE, token.expose(str::to_owned)))
                .secure(true)
                .http_only(true)
                .same_site(SameSite::Lax)
                .path("/")
                .max_age(time::Duration::days(BROWSER_DAYS))
                .build();
            (jar.add(cookie), token.expose(crate::sessions::token_hash))
        }
    };
    let (state_, user, client, agent) = (
        state.clone(),
        user.clone(),
        *client,
        clean_user_agent(user_agent),
    );
    state.accounts.background.spawn(async move {
        if let Err(e) = remember(&state_, &user, &hash, &client, &agent).await {
            tracing::debug!(error = %e, "sign-in browser not recorded");
        }
    });
    jar
}

async fn remember(
    state: &AppState,
    user: &UserRow,
    hash: &str,
    client: &ClientInfo,
    agent: &str,
) -> Result<(), AppError> {
    let accounts = &state.accounts;
    let now = accounts.clock.now();
    if !accounts.store.remember_browser(user.id, hash, now).await? {
        return Ok(());
    }
    let counter = accounts
        .store
        .count_attempt(&keys::sign_in_notices(user.id), now, HOUR)
        .await?;
    if counter.failures > SIGN_IN_NOTICES_PER_HOUR {
        return Ok(());
    }
    let browser = if agent.is_empty() {
        "an unnamed browser"
    } else {
        agent
    };
    let content = Content::new_sign_in(
        &accounts.site_name,
        &user.username,
        browser,
        &client.addr.to_string(),
        &crate::web::utc(now),
    );
    let notice = accounts.notice(user, &content)?;
    accounts.store.queue_mail(&notice).await?;
    accounts.mail.queued();
    Ok(())
}
