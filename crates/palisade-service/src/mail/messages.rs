//! What each message says: one constructor per kind, rendered into plain text and HTML by
//! the two templates in `templates/mail/`. Subjects are fixed text and the site's name
//! (configured, not user input); what users typed appears only in bodies, escaped in HTML.

use askama::Template;

/// A link the message asks the reader to follow.
#[derive(Debug, Clone)]
pub(crate) struct Action {
    pub(crate) label: &'static str,
    pub(crate) url: String,
}

/// A message before rendering. Its kind names it in the outbox (never its contents).
#[derive(Debug, Clone)]
pub(crate) struct Content {
    pub(crate) kind: &'static str,
    pub(crate) subject: String,
    pub(crate) heading: String,
    pub(crate) paragraphs: Vec<String>,
    pub(crate) action: Option<Action>,
    pub(crate) after: Vec<String>,
}

/// The closing line of every notice: what to do if it was not you.
const NOT_YOU: &str = "If this was not you, reset your password now and check your account's second factors and sessions.";

impl Content {
    pub(crate) fn password_reset(site: &str, username: &str, url: String, minutes: i64) -> Self {
        Self {
            kind: "password_reset",
            subject: format!("Reset your password for {site}"),
            heading: "Reset your password".into(),
            paragraphs: vec![format!(
                "Someone asked to reset the password of the account {username} on {site}."
            )],
            action: Some(Action {
                label: "Choose a new password",
                url,
            }),
            after: vec![format!(
                "The link works once, for {minutes} minutes. If you did not ask for it, ignore this message: your password stays as it is."
            )],
        }
    }

    pub(crate) fn verify_email(site: &str, username: &str, url: String, hours: i64) -> Self {
        Self {
            kind: "verify_email",
            subject: format!("Confirm your email address for {site}"),
            heading: "Confirm your email address".into(),
            paragraphs: vec![format!(
                "This address was given for the account {username} on {site}."
            )],
            action: Some(Action {
                label: "Confirm this address",
                url,
            }),
            after: vec![format!(
                "The link works once, for {hours} hours. If you did not sign up, ignore this message."
            )],
        }
    }

    pub(crate) fn confirm_new_email(site: &str, username: &str, url: String, hours: i64) -> Self {
        Self {
            kind: "confirm_new_email",
            subject: format!("Confirm your new email address for {site}"),
            heading: "Confirm your new email address".into(),
            paragraphs: vec![format!(
                "The account {username} on {site} asked to use this address from now on. Nothing changes until it is confirmed."
            )],
            action: Some(Action {
                label: "Use this address",
                url,
            }),
            after: vec![format!(
                "The link works once, for {hours} hours. If you did not ask for this, ignore this message."
            )],
        }
    }

    pub(crate) fn email_change_requested(site: &str, username: &str, new_email: &str) -> Self {
        Self::notice(
            "email_change_requested",
            format!("A change of your email address was asked for on {site}"),
            format!(
                "The account {username} asked to use {new_email} instead of this address. Nothing changes unless the link sent there is opened."
            ),
        )
    }

    pub(crate) fn email_changed(site: &str, username: &str, new_email: &str) -> Self {
        Self::notice(
            "email_changed",
            format!("Your email address on {site} was changed"),
            format!(
                "The account {username} now uses {new_email}: messages about it, password resets included, go there."
            ),
        )
    }

    pub(crate) fn password_changed(site: &str, username: &str, by_reset: bool) -> Self {
        let how = if by_reset {
            "with a reset link sent to this address"
        } else {
            "by someone who knew the old one"
        };
        Self::notice(
            "password_changed",
            format!("Your password on {site} was changed"),
            format!(
                "The password of the account {username} was changed {how}. Every other session was signed out."
            ),
        )
    }

    pub(crate) fn second_factor_added(site: &str, username: &str, what: &str) -> Self {
        Self::notice(
            "second_factor_added",
            format!("A second factor was added to your account on {site}"),
            format!("The account {username} has a new second factor: {what}."),
        )
    }

    pub(crate) fn second_factor_removed(site: &str, username: &str, name: &str) -> Self {
        Self::notice(
            "second_factor_removed",
            format!("A second factor was removed from your account on {site}"),
            format!("The second factor {name} of the account {username} was removed."),
        )
    }

    pub(crate) fn second_factors_reset(site: &str, username: &str) -> Self {
        Self::notice(
            "second_factors_reset",
            format!("The second factors of your account on {site} were removed"),
            format!(
                "Support removed every second factor and recovery code of the account {username}, and signed out all its sessions. Sign in with your password and add a second factor again."
            ),
        )
    }

    pub(crate) fn new_sign_in(
        site: &str,
        username: &str,
        browser: &str,
        address: &str,
        when: &str,
    ) -> Self {
        Self::notice(
            "new_sign_in",
            format!("A new sign-in to your account on {site}"),
            format!(
                "The account {username} was signed in to from a browser it had not used before, at {when} (UTC), from {address}: {browser}."
            ),
        )
    }

    pub(crate) fn signup_link(site: &str, username: &str, url: String, hours: i64) -> Self {
        Self {
            kind: "signup_link",
            subject: format!("Finish signing up for {site}"),
            heading: "Finish signing up".into(),
            paragraphs: vec![format!(
                "Someone asked for an account {username} on {site} with this address."
            )],
            action: Some(Action {
                label: "Create the account",
                url,
            }),
            after: vec![format!(
                "The link works once, for {hours} hours. If you did not sign up, ignore this message: no account is made without it."
            )],
        }
    }

    pub(crate) fn signup_with_your_address(site: &str, username: &str) -> Self {
        Self::notice(
            "signup_with_your_address",
            format!("Someone tried to sign up for {site} with your address"),
            format!(
                "Someone asked for a new account on {site} with this address, which already belongs to the account {username}. No account was made. If it was you, sign in instead, or reset your password if you forgot it. If it was not you, you need do nothing."
            ),
        )
    }

    pub(crate) fn wrong_second_factor(
        site: &str,
        username: &str,
        address: &str,
        when: &str,
    ) -> Self {
        Self::notice(
            "wrong_second_factor",
            format!("Someone knows your password on {site}"),
            format!(
                "At {when} (UTC), from {address}, someone entered the right password for the account {username}, then a wrong second-factor code. Your second factor kept them out. If this was not you, change your password now: whoever it was knows it."
            ),
        )
    }

    /// An administrator disabled (`true`) or enabled the account.
    pub(crate) fn account_disabled(site: &str, username: &str, disabled: bool) -> Self {
        if disabled {
            Self::notice(
                "account_disabled",
                format!("Your account on {site} was disabled"),
                format!(
                    "An administrator disabled the account {username} and signed out all its sessions. Nobody can sign in to it until it is enabled again."
                ),
            )
        } else {
            Self::notice(
                "account_enabled",
                format!("Your account on {site} was enabled"),
                format!("An administrator enabled the account {username} again: it can sign in."),
            )
        }
    }

    /// An administrator gave (`true`) or took away the right to administer.
    pub(crate) fn admin_rights(site: &str, username: &str, granted: bool) -> Self {
        let (kind, subject, what) = if granted {
            (
                "admin_rights_granted",
                format!("Your account on {site} can now administer it"),
                format!("An administrator made the account {username} an administrator of {site}."),
            )
        } else {
            (
                "admin_rights_removed",
                format!("Your account on {site} no longer administers it"),
                format!(
                    "An administrator took away the administrator rights of the account {username}."
                ),
            )
        };
        Self::notice(kind, subject, what)
    }

    /// The account is gone (its owner or an administrator deleted it).
    pub(crate) fn account_deleted(site: &str, username: &str, by_admin: bool) -> Self {
        let who = if by_admin {
            "An administrator deleted"
        } else {
            "You deleted"
        };
        Self {
            kind: "account_deleted",
            subject: format!("Your account on {site} was deleted"),
            heading: format!("Your account on {site} was deleted"),
            paragraphs: vec![format!(
                "{who} the account {username}: its sessions, second factors, tokens, secrets and apps' access are gone. The security log keeps what happened under an anonymous number, without your name or address."
            )],
            action: None,
            after: vec![
                "If you did not ask for this, reply to this message or contact the administrators of this site.".into(),
            ],
        }
    }

    pub(crate) fn test(site: &str) -> Self {
        Self {
            kind: "test",
            subject: format!("Test message from {site}"),
            heading: "Mail works".into(),
            paragraphs: vec![format!(
                "{site} can send mail: password resets, address confirmations and security notices will arrive."
            )],
            action: None,
            after: Vec::new(),
        }
    }

    fn notice(kind: &'static str, subject: String, what: String) -> Self {
        Self {
            kind,
            heading: subject.clone(),
            subject,
            paragraphs: vec![what],
            action: None,
            after: vec![NOT_YOU.into()],
        }
    }

    /// The plain-text and HTML bodies.
    pub(crate) fn render(&self, site_name: &str) -> Result<(String, String), askama::Error> {
        let text = TextBody {
            content: self,
            site_name,
        }
        .render()?;
        let html = HtmlBody {
            content: self,
            site_name,
        }
        .render()?;
        Ok((text, html))
    }
}

#[derive(Template)]
#[template(path = "mail/message.txt")]
struct TextBody<'a> {
    content: &'a Content,
    site_name: &'a str,
}

#[derive(Template)]
#[template(path = "mail/message.html")]
struct HtmlBody<'a> {
    content: &'a Content,
    site_name: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_bodies_escape_what_users_typed_and_text_bodies_keep_it() {
        let name = "<img src=x onerror=alert(1)>";
        let content = Content::second_factor_added("Site", "alice", name);
        let (text, html) = content.render("Site").unwrap();
        assert!(text.contains(name), "{text}");
        assert!(!html.contains(name), "{html}");
        assert!(
            html.contains("&#60;img src=x onerror=alert(1)&#62;"),
            "{html}"
        );
    }

    #[test]
    fn a_link_is_in_both_bodies() {
        let url = "https://accounts.example.com/password/reset?token=abc".to_owned();
        let content = Content::password_reset("Site", "alice", url.clone(), 15);
        let (text, html) = content.render("Site").unwrap();
        assert!(text.contains(&url), "{text}");
        assert!(html.contains(&format!("href=\"{url}\"")), "{html}");
        assert!(text.contains("15 minutes"));
    }
}
