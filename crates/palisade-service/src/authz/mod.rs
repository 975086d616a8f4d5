//! Forward-auth: a reverse proxy asks, for every request to an app it protects, whether to
//! let it through; palisade answers from the session and the access rules, and names the
//! user to the app in `Remote-*` headers.
//!
//! `settings` is `[access_control]` as written, `rules` decides (and `rules::shadow` finds
//! subject rules a later rule lets anyone past), `target` reads the proxy's description of
//! the original request as the app will read it, `return_to` judges where a login may send
//! the browser back to, `api` holds the endpoints (one per proxy family, the same decision
//! behind all of them; on `authz_listen` alone when it is set).

pub(crate) mod api;
mod return_to;
mod rules;
mod settings;
mod target;

pub(crate) use return_to::ReturnTo;
pub use rules::{AccessControl, OneOrMany, RuleConfig};
pub(crate) use rules::{
    AccessRules, Decision, Identity, Outcome, Policy, Subject, compile_subjects, is_group_name,
    policy_outcome, subjects_match,
};
pub(crate) use target::{
    Malformed, PathParameters, PathReading, Target, is_hostname, normalize_resource,
};

use std::sync::Arc;

use palisade::http::TrustedProxies;

use crate::error::AppError;
use crate::sessions::Credential;
use crate::store::{Groups, Store, UserRow};

/// The decision service behind the endpoints.
pub(crate) struct Authz {
    rules: AccessRules,
    proxies: TrustedProxies,
    /// `<public_origin>/login`.
    login_url: String,
    return_to: ReturnTo,
    store: Store,
}

/// A decision, with the user it was made for (to name them to the app).
pub(crate) struct Answer {
    pub(crate) decision: Decision,
    pub(crate) user: Option<(Arc<UserRow>, Groups)>,
}

impl Authz {
    pub(crate) fn new(
        rules: AccessRules,
        proxies: TrustedProxies,
        origin: &str,
        cookie_domain: Option<&str>,
        store: Store,
    ) -> Self {
        Self {
            rules,
            proxies,
            login_url: format!("{}/login", origin.trim_end_matches('/')),
            return_to: ReturnTo::new(origin, cookie_domain),
            store,
        }
    }

    /// How the apps read paths (see `target::PathReading`).
    pub(crate) fn reading(&self) -> &target::PathReading {
        self.rules.reading()
    }

    /// What the rules' author should hear about (see `AccessRules::warnings`).
    pub(crate) fn warnings(&self) -> Vec<String> {
        self.rules.warnings()
    }

    /// Where a login may go back to, from its `rd` (see `return_to`).
    pub(crate) fn return_to(&self, rd: &str) -> Option<String> {
        self.return_to.check(rd)
    }

    /// Whether a request to the endpoints came straight from a trusted proxy: nobody else
    /// may describe an original request (they could name any URL, and pass any headers).
    pub(crate) fn trusts_peer(&self, peer: std::net::IpAddr) -> bool {
        self.proxies.contains(peer)
    }

    /// Decides `target` for the user behind the request's credentials (if any).
    pub(crate) async fn ask(
        &self,
        target: &Target,
        user: Option<(Arc<UserRow>, Credential)>,
    ) -> Result<Answer, AppError> {
        let credential = user.as_ref().map(|(_, c)| *c);
        let user = match user {
            Some((user, _)) => {
                let groups = if self.rules.uses_groups() {
                    self.store.remembered_groups_of(user.id).await?
                } else {
                    Groups::from([])
                };
                Some((user, groups))
            }
            None => None,
        };
        let who = user
            .as_ref()
            .zip(credential)
            .map(|((u, groups), credential)| Identity {
                username: &u.username,
                groups,
                credential,
                email_verified: u.email_verified_at.is_some(),
            });
        let decision = self.rules.decide(target, who);
        Ok(Answer { decision, user })
    }

    /// Where a browser goes to log in, and back to `target` afterwards.
    pub(crate) fn login_redirect(&self, target: &Target) -> String {
        let rd: String = form_urlencoded::byte_serialize(target.url().as_bytes()).collect();
        format!("{}?rd={rd}", self.login_url)
    }
}
