//! Rules that let through whom an earlier rule was meant to keep out: a rule naming
//! subjects is matched on the subject too (first match, as in Authelia), so someone outside
//! the subjects skips it and is decided by the next rule for the same requests. When that
//! rule (or the default policy) lets anyone through, the first rule protects nothing.

use super::{AccessRules, DomainPattern, Policy, Rule};

impl AccessRules {
    /// Rules a non-member passes straight by: a rule naming subjects, followed by a rule
    /// (or the default policy) that lets anyone through the same requests. Rules match on
    /// the subject too (first match), so someone outside the subject falls through to the
    /// broader allow — the mistake the first rule was meant to prevent. One sentence each,
    /// naming both rules.
    pub(crate) fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.subjects.is_empty() {
                continue;
            }
            let next = self.rules[i + 1..]
                .iter()
                .enumerate()
                .find(|(_, later)| later.subjects.is_empty() && later.covers(rule));
            let (by, policy) = match next {
                Some((j, later)) => (format!("access_control.rules[{}]", i + 1 + j), later.policy),
                None => ("default_policy".to_owned(), self.default),
            };
            if policy != Policy::Deny {
                warnings.push(format!(
                    "access_control.rules[{i}] names subjects, but {by} lets anyone else through the same requests ({}): someone outside the subjects skips rules[{i}] and is let in by {by}. Put a rule with policy = \"deny\" for the same requests between them.",
                    policy.name()
                ));
            }
        }
        warnings
    }
}

impl Rule {
    /// Whether this rule matches at least every request `other` matches (judged from what
    /// is written: a pattern covers another if it is the same, `.*`, or absent).
    fn covers(&self, other: &Rule) -> bool {
        let domains = other.domains.iter().all(|theirs| {
            self.domains.iter().any(|ours| match (ours, theirs) {
                (DomainPattern::Exact(a), DomainPattern::Exact(b)) => a == b,
                (DomainPattern::Under(_), DomainPattern::Exact(b)) => ours.matches(b),
                (DomainPattern::Under(a), DomainPattern::Under(b)) => {
                    a == b || ours.matches(b.trim_start_matches('.'))
                }
                (DomainPattern::Exact(_), DomainPattern::Under(_)) => false,
            })
        });
        let everything = |text: &[String]| text.iter().any(|t| t == ".*" || t == "/.*");
        let resources = self.resources.is_empty()
            || everything(&self.resource_text)
            || (!other.resource_text.is_empty()
                && other
                    .resource_text
                    .iter()
                    .all(|r| self.resource_text.contains(r)));
        let methods = self.methods.is_empty()
            || (!other.methods.is_empty()
                && other.methods.iter().all(|m| self.methods.contains(m)));
        let networks = self.networks.is_empty()
            || (!other.networks.is_empty()
                && other
                    .networks
                    .iter()
                    .all(|n| self.networks.iter().any(|ours| ours.contains(n))));
        domains && resources && methods && networks && self.query.is_empty()
    }
}
