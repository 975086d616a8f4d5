//! Parsing a policy the way browsers do (CSP Level 3 §2.2.1), keeping what a reviewer
//! needs to hear about: unknown names, duplicates, missing semicolons, unquoted keywords,
//! malformed nonces and hashes.

use super::{Finding, Severity};

/// Directives of CSP Level 3 (and Trusted Types) in current use.
pub(crate) const CURRENT_DIRECTIVES: &[&str] = &[
    "default-src",
    "script-src",
    "script-src-elem",
    "script-src-attr",
    "style-src",
    "style-src-elem",
    "style-src-attr",
    "img-src",
    "font-src",
    "connect-src",
    "media-src",
    "object-src",
    "frame-src",
    "child-src",
    "worker-src",
    "manifest-src",
    "fenced-frame-src",
    "form-action",
    "frame-ancestors",
    "base-uri",
    "sandbox",
    "upgrade-insecure-requests",
    "report-to",
    "require-trusted-types-for",
    "trusted-types",
    "webrtc",
];

/// Deprecated or never-shipped directives (`report-uri` still works, as a fallback).
pub(crate) const DEPRECATED_DIRECTIVES: &[&str] = &[
    "block-all-mixed-content",
    "plugin-types",
    "prefetch-src",
    "referrer",
    "reflected-xss",
    "report-uri",
    "navigate-to",
    "require-sri-for",
];

fn is_known(name: &str) -> bool {
    CURRENT_DIRECTIVES.contains(&name) || DEPRECATED_DIRECTIVES.contains(&name)
}

const KEYWORDS: &[&str] = &[
    "self",
    "none",
    "unsafe-inline",
    "unsafe-eval",
    "unsafe-hashes",
    "strict-dynamic",
    "report-sample",
    "wasm-unsafe-eval",
    "unsafe-allow-redirects",
    "inline-speculation-rules",
];

/// One directive: its lower-cased name and its source expressions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// Lower-cased name.
    pub name: String,
    /// Source expressions; keywords and schemes lower-cased, the rest as written.
    pub values: Vec<String>,
}

/// A parsed policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// The directives in order, first occurrence of each name only (as browsers apply them).
    pub directives: Vec<Directive>,
}

impl Policy {
    /// The values of `name`, if the directive is present.
    pub fn get(&self, name: &str) -> Option<&[String]> {
        self.directives
            .iter()
            .find(|d| d.name == name)
            .map(|d| d.values.as_slice())
    }

    /// The directive that governs `name` when absent: the CSP3 fallback chain.
    pub fn effective<'a>(&'a self, name: &'a str) -> Option<(&'a str, &'a [String])> {
        let chain: &[&str] = match name {
            "script-src-elem" | "script-src-attr" => &["script-src", "default-src"],
            "style-src-elem" | "style-src-attr" => &["style-src", "default-src"],
            "worker-src" => &["child-src", "script-src", "default-src"],
            "frame-src" => &["child-src", "default-src"],
            n if n.ends_with("-src") => &["default-src"],
            _ => &[],
        };
        std::iter::once(name)
            .chain(chain.iter().copied())
            .find_map(|n| self.get(n).map(|v| (n, v)))
    }
}

fn normalise(value: &str) -> String {
    let lower = value.to_ascii_lowercase();
    let keyword = lower.len() >= 2
        && lower.starts_with('\'')
        && lower.ends_with('\'')
        && KEYWORDS.contains(&&lower[1..lower.len() - 1]);
    let scheme = value.ends_with(':')
        && value[..value.len() - 1]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if keyword || scheme {
        lower
    } else {
        value.to_owned()
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn base64ish(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/-_=".contains(&b))
}

/// Parses one serialized policy (no commas: see [`super::evaluate`]).
pub(crate) fn parse(text: &str, findings: &mut Vec<Finding>) -> Policy {
    let mut policy = Policy::default();
    for token in text.split(';') {
        let mut parts = token.split_ascii_whitespace();
        let Some(raw_name) = parts.next() else {
            continue;
        };
        let name = raw_name.to_ascii_lowercase();
        let values: Vec<String> = parts.map(normalise).collect();
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            findings.push(Finding::new(
                Severity::High,
                "invalid-directive-name",
                &name,
                "is not a directive name: the directive is ignored",
                "Check the spelling and separators",
            ));
            continue;
        }
        if !is_known(&name) {
            findings.push(unknown_directive(&name));
        }
        if policy.get(&name).is_some() {
            findings.push(Finding::new(
                Severity::Medium,
                "duplicate-directive",
                &name,
                "appears twice: browsers ignore every occurrence after the first",
                "Merge the two into one directive",
            ));
            continue;
        }
        for value in &values {
            check_source(&name, value, findings);
        }
        policy.directives.push(Directive { name, values });
    }
    policy
}

/// A directive browsers do not know, with the nearest known name as the fix.
fn unknown_directive(name: &str) -> Finding {
    let hint = CURRENT_DIRECTIVES
        .iter()
        .chain(DEPRECATED_DIRECTIVES)
        .map(|k| (edit_distance(name, k), *k))
        .min()
        .filter(|(d, _)| *d <= 2)
        .map(|(_, k)| format!("Did you mean {k}?"))
        .unwrap_or_else(|| "Remove it or check its name".into());
    Finding::new(
        Severity::Medium,
        "unknown-directive",
        name,
        "is not a CSP directive: browsers ignore it",
        &hint,
    )
}

/// One source expression: a directive name where a `;` is missing, an unquoted keyword, or
/// a nonce or hash that can never match.
fn check_source(name: &str, value: &str, findings: &mut Vec<Finding>) {
    let lower = value.to_ascii_lowercase();
    if is_known(&lower) && lower != "sandbox" {
        findings.push(Finding::new(
            Severity::High,
            "missing-semicolon",
            name,
            &format!("has {lower} as a source: a ';' is probably missing"),
            &format!("Put ';' before {lower}"),
        ));
    } else if KEYWORDS.contains(&lower.as_str()) {
        findings.push(Finding::new(
            Severity::High,
            "unquoted-keyword",
            name,
            &format!("has {lower} without quotes: it is read as a host name"),
            &format!("Write '{lower}'"),
        ));
    } else if let Some(nonce) = lower
        .strip_prefix("'nonce-")
        .and_then(|n| n.strip_suffix('\''))
    {
        if !base64ish(nonce) {
            findings.push(Finding::new(
                Severity::High,
                "invalid-nonce",
                name,
                "has a nonce with characters outside base64: it never matches",
                "Use a base64 nonce",
            ));
        }
    } else if let Some(hash) = ["'sha256-", "'sha384-", "'sha512-"]
        .iter()
        .find_map(|p| lower.strip_prefix(p))
        .and_then(|h| h.strip_suffix('\''))
        && !base64ish(hash)
    {
        findings.push(Finding::new(
            Severity::High,
            "invalid-hash",
            name,
            "has a hash with characters outside base64: it never matches",
            "Use the base64 digest of the script",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_rules() {
        let mut f = Vec::new();
        let p = parse(
            "Script-Src 'SELF' HTTPS: example.com; script-src 'unsafe-inline'; ;; img-src data:",
            &mut f,
        );
        assert_eq!(
            p.get("script-src").unwrap(),
            ["'self'", "https:", "example.com"]
        );
        assert_eq!(p.get("img-src").unwrap(), ["data:"]);
        assert!(f.iter().any(|x| x.id == "duplicate-directive"));
        let mut f = Vec::new();
        parse("script-src 'self' object-src 'none'", &mut f);
        assert!(f.iter().any(|x| x.id == "missing-semicolon"));
        let mut f = Vec::new();
        parse("scirpt-src self", &mut f);
        assert!(
            f.iter()
                .any(|x| x.id == "unknown-directive" && x.fix.contains("script-src"))
        );
        assert!(f.iter().any(|x| x.id == "unquoted-keyword"));
    }
}
