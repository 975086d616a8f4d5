//! The rules a new password must meet.

use std::fmt;
use std::sync::Arc;

use super::Blocklist;
use crate::validate::{Email, Password, Username};

/// zxcvbn looks at no more than this many characters (its own cap is 100): its matching cost
/// grows quickly with length, and a password this long is not weak because of its tail.
const ZXCVBN_MAX_CHARS: usize = 64;
/// At most this many user words, each cut to this many characters, reach zxcvbn.
const MAX_USER_WORDS: usize = 16;

/// Rules for new passwords: length bounds, a breached-passwords list, and a zxcvbn strength
/// score computed with the user's own words. No composition rules ("one digit, one
/// symbol"): they make passwords harder to remember, not to guess.
#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    min_chars: usize,
    max_chars: usize,
    min_score: u8,
    site_words: Vec<String>,
    blocklist: Option<Arc<Blocklist>>,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a new password was refused, with what would help, in plain words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyViolation {
    /// Shorter than the minimum.
    #[error(
        "Use at least {min} characters. Several unrelated words make a long password that is easy to remember."
    )]
    TooShort {
        /// Minimum characters.
        min: usize,
    },
    /// Longer than the maximum.
    #[error("Use at most {max} characters.")]
    TooLong {
        /// Maximum characters.
        max: usize,
    },
    /// On the configured list of breached or forbidden passwords.
    #[error(
        "This password appears in a list of passwords exposed in data breaches, so attackers try it early. Choose another."
    )]
    Blocklisted,
    /// Too easy to guess.
    #[error("This password is too easy to guess (strength {score} of 4; {min_score} needed).{}{}", warning.as_deref().map(|w| format!(" {w}")).unwrap_or_default(), suggestions.iter().map(|s| format!(" {s}")).collect::<String>())]
    TooWeak {
        /// zxcvbn score, 0 to 4.
        score: u8,
        /// Required score.
        min_score: u8,
        /// zxcvbn's warning, if any.
        warning: Option<String>,
        /// zxcvbn's suggestions.
        suggestions: Vec<String>,
    },
}

impl PasswordPolicy {
    /// The defaults: 12 to 256 characters, zxcvbn score at least 3, no blocklist.
    pub fn new() -> Self {
        Self {
            min_chars: 12,
            max_chars: 256,
            min_score: 3,
            site_words: Vec::new(),
            blocklist: None,
        }
    }

    /// Sets the length bounds. The minimum cannot go below 8 nor the maximum below 64;
    /// the byte cap of [`Password`] (1,024 bytes) always applies as well.
    pub fn with_length(mut self, min_chars: usize, max_chars: usize) -> Result<Self, &'static str> {
        if min_chars < 8 {
            return Err("the minimum password length cannot be below 8 characters");
        }
        if max_chars < 64 || max_chars < min_chars {
            return Err("the maximum password length must be at least 64 and at least the minimum");
        }
        self.min_chars = min_chars;
        self.max_chars = max_chars;
        Ok(self)
    }

    /// Sets the required zxcvbn score (0 to 4).
    pub fn with_min_score(mut self, score: u8) -> Result<Self, &'static str> {
        if score > 4 {
            return Err("the zxcvbn score ranges from 0 to 4");
        }
        self.min_score = score;
        Ok(self)
    }

    /// Words of the site (its name, its domain) that must not make a password strong.
    pub fn with_site_words<I: IntoIterator<Item = S>, S: Into<String>>(mut self, words: I) -> Self {
        self.site_words = words.into_iter().map(Into::into).collect();
        self
    }

    /// Refuses every password on `list`.
    pub fn with_blocklist(mut self, list: Arc<Blocklist>) -> Self {
        self.blocklist = Some(list);
        self
    }

    /// Minimum length in characters.
    pub fn min_chars(&self) -> usize {
        self.min_chars
    }

    /// Checks a new password. `user_words` are the user's own details (see [`user_words`]).
    /// Rules are checked cheapest first: length, blocklist, then zxcvbn.
    pub fn check(&self, password: &Password, user_words: &[String]) -> Result<(), PolicyViolation> {
        password.expose(|p| self.check_str(p, user_words))
    }

    fn check_str(&self, password: &str, user_words: &[String]) -> Result<(), PolicyViolation> {
        let chars = password.chars().count();
        if chars < self.min_chars {
            return Err(PolicyViolation::TooShort {
                min: self.min_chars,
            });
        }
        if chars > self.max_chars {
            return Err(PolicyViolation::TooLong {
                max: self.max_chars,
            });
        }
        if self
            .blocklist
            .as_ref()
            .is_some_and(|b| b.contains(password))
        {
            return Err(PolicyViolation::Blocklisted);
        }
        let head = match password.char_indices().nth(ZXCVBN_MAX_CHARS) {
            Some((end, _)) => &password[..end],
            None => password,
        };
        let words: Vec<&str> = user_words
            .iter()
            .chain(&self.site_words)
            .take(MAX_USER_WORDS)
            .map(|w| match w.char_indices().nth(ZXCVBN_MAX_CHARS) {
                Some((end, _)) => &w[..end],
                None => w.as_str(),
            })
            .collect();
        let entropy = zxcvbn::zxcvbn(head, &words);
        let score = u8::from(entropy.score());
        if score < self.min_score {
            let feedback = entropy.feedback();
            return Err(PolicyViolation::TooWeak {
                score,
                min_score: self.min_score,
                warning: feedback.and_then(|f| f.warning()).map(|w| w.to_string()),
                suggestions: feedback
                    .map(|f| f.suggestions().iter().map(ToString::to_string).collect())
                    .unwrap_or_default(),
            });
        }
        Ok(())
    }
}

/// The words of an account that must not make its password strong: the username, the
/// email address, its local part and the pieces of it split on `.`, `_`, `-`, `+`, the
/// domain's labels but the last, and the display name's words.
pub fn user_words(
    username: Option<&Username>,
    email: Option<&Email>,
    display_name: Option<&str>,
) -> Vec<String> {
    let mut words = Vec::new();
    let mut push = |w: &str| {
        let w = w.to_lowercase();
        if w.chars().count() >= 3 && !words.contains(&w) {
            words.push(w);
        }
    };
    if let Some(u) = username {
        push(u.as_str());
        u.as_str().split(['.', '_', '-']).for_each(&mut push);
    }
    if let Some(e) = email {
        push(e.as_str());
        push(e.local_part());
        e.local_part()
            .split(['.', '_', '-', '+'])
            .for_each(&mut push);
        let labels: Vec<&str> = e.domain().split('.').collect();
        labels[..labels.len() - 1].iter().for_each(|l| push(l));
    }
    if let Some(d) = display_name {
        d.split_whitespace().for_each(&mut push);
    }
    words
}

impl fmt::Display for PasswordPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} to {} characters, strength at least {} of 4{}",
            self.min_chars,
            self.max_chars,
            self.min_score,
            if self.blocklist.is_some() {
                ", not on the breached-passwords list"
            } else {
                ""
            }
        )
    }
}
