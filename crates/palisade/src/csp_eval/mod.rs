//! Judging a Content-Security-Policy: parse problems and weaknesses, each with a severity,
//! a one-line explanation and a fix.
//!
//! Stops: shipping a policy that looks strict but is not — `'unsafe-inline'` scripts,
//! wildcards and plain schemes that let any host serve script, a missing `object-src` or
//! `base-uri`, nonces too short to guess-proof, typos that make a directive silently vanish.
//!
//! # Example
//! ```
//! use palisade::csp_eval::{Severity, evaluate};
//! let report = evaluate("script-src 'self' 'unsafe-inline'; object-src 'none'");
//! assert!(report.findings.iter().any(|f| f.id == "script-unsafe-inline" && f.severity == Severity::High));
//! let strict = "default-src 'none'; script-src 'nonce-r4nd0mV4lu3xyz' 'strict-dynamic'; \
//!               base-uri 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'; report-to csp";
//! assert!(evaluate(strict).worst() <= Some(Severity::Info));
//! ```
//!
//! # Deployment caveat
//! The checks judge the policy text alone. Whether a nonce is really fresh per response, or
//! an allowed host really serves no JSONP, needs the site itself (`palisade scan`).

mod checks;
mod observatory;
mod parse;
mod script;

pub use observatory::observatory_expectation;
#[cfg(feature = "http")]
pub(crate) use parse::{CURRENT_DIRECTIVES, DEPRECATED_DIRECTIVES};
pub use parse::{Directive, Policy};

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth knowing; no weakness by itself.
    Info,
    /// Defence in depth is thinner than it should be.
    Low,
    /// A weakness an attacker can use with some other help.
    Medium,
    /// The policy does not stop script injection (or a directive silently vanishes).
    High,
}

impl Severity {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    /// Parses `info`, `low`, `medium`, `high`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "info" => Some(Severity::Info),
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            _ => None,
        }
    }
}

/// One problem with the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How much it matters.
    pub severity: Severity,
    /// A stable identifier (`script-unsafe-inline`, `missing-object-src`, …).
    pub id: &'static str,
    /// The directive concerned (or `policy`).
    pub directive: String,
    /// What is wrong, in one line.
    pub message: String,
    /// What to do, in one line.
    pub fix: String,
}

impl Finding {
    pub(crate) fn new(
        severity: Severity,
        id: &'static str,
        directive: &str,
        message: &str,
        fix: &str,
    ) -> Self {
        Self {
            severity,
            id,
            directive: directive.to_owned(),
            message: message.to_owned(),
            fix: fix.to_owned(),
        }
    }
}

/// The verdict on a header value.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The policies (a header value may hold several, separated by commas; each is enforced).
    pub policies: Vec<Policy>,
    /// Everything found, most severe first.
    pub findings: Vec<Finding>,
}

impl Report {
    /// The most severe finding's severity.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// Parses and judges a header value. Several comma-separated policies are judged one by one
/// (a browser enforces each).
pub fn evaluate(header: &str) -> Report {
    let mut report = Report::default();
    for text in header.split(',') {
        let mut findings = Vec::new();
        let policy = parse::parse(text, &mut findings);
        if policy.directives.is_empty() {
            findings.push(Finding::new(
                Severity::High,
                "empty-policy",
                "policy",
                "has no directive: it restricts nothing",
                "Start from default-src 'none' and add what the site needs",
            ));
        } else {
            checks::run(&policy, &mut findings);
        }
        report.findings.extend(findings);
        report.policies.push(policy);
    }
    report
        .findings
        .sort_by_key(|f| std::cmp::Reverse(f.severity));
    report
}

#[cfg(test)]
mod tests;
