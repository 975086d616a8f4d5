//! `palisade authz check`: which access rule decides a URL for a user, for operators
//! debugging a configuration.

use std::net::IpAddr;

use super::Admin;
use crate::authz::{AccessRules, Identity, Outcome, Target};
use crate::sessions::Credential;

/// What the rules answer, and why.
#[derive(Debug)]
pub struct AuthzReport {
    /// The URL as the rules saw it (normalized).
    pub url: String,
    /// `allow`, `log in first` or `deny`.
    pub outcome: &'static str,
    /// The deciding rule's index; `None`: the default policy.
    pub rule: Option<usize>,
    /// Why, in words.
    pub why: String,
    /// What is wrong with the rules themselves (a subject rule shadowed by a broader
    /// allow), one sentence each.
    pub warnings: Vec<String>,
}

impl Admin {
    /// Decides `url` requested with `method` from `from`, for `user` (`None`: nobody
    /// logged in), with the configuration's rules and the user's stored groups.
    pub async fn authz_check(
        &self,
        url: &str,
        user: Option<&str>,
        method: &str,
        from: IpAddr,
    ) -> Result<AuthzReport, String> {
        let rules = AccessRules::compile(&self.config.access_control)
            .map_err(|e| format!("configuration: {e}"))?
            .requiring_second_factor(self.config.require_second_factor)
            .requiring_verified_email(self.config.require_verified_email);
        let method = method.to_ascii_uppercase();
        let target = Target::from_url(&method, url, from, rules.reading())
            .map_err(|e| format!("URL refused: {}", e.0))?;
        let found = match user {
            Some(name) => {
                let user = self.find(name).await?;
                if user.disabled != 0 {
                    return Err(format!(
                        "{} is disabled: no session of theirs is accepted",
                        user.username
                    ));
                }
                let groups = self
                    .store
                    .groups_of(user.id)
                    .await
                    .map_err(|e| e.to_string())?;
                // As the user would sign in: with their second factor when they have one.
                let credential = match self.store.has_second_factor(user.id).await {
                    Ok(true) => Credential::SessionWithSecondFactor,
                    Ok(false) => Credential::Session,
                    Err(e) => return Err(e.to_string()),
                };
                let verified = user.email_verified_at.is_some();
                Some((user.username, groups, credential, verified))
            }
            None => None,
        };
        let who = found
            .as_ref()
            .map(|(username, groups, credential, verified)| Identity {
                username,
                groups,
                credential: *credential,
                email_verified: *verified,
            });
        let decision = rules.decide(&target, who);
        Ok(AuthzReport {
            url: target.url(),
            outcome: match decision.outcome {
                Outcome::Allow => "allow",
                Outcome::LogIn => "log in first",
                Outcome::Deny => "deny",
            },
            rule: decision.rule,
            why: decision.why(),
            warnings: rules.warnings(),
        })
    }
}
