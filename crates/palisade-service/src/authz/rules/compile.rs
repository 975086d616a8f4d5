//! One `[[access_control.rules]]` entry, compiled: every field parsed once, at start, into
//! a form that cannot be misread; an error names the rule and the field.

use std::net::IpAddr;

use http::Method;
use ipnet::IpNet;

use super::{DomainPattern, Policy, Rule, RuleConfig, Subject, is_group_name};

pub(super) fn compile_rule(rule: &RuleConfig, at: &str, ignore_case: bool) -> Result<Rule, String> {
    let domains = rule
        .domain
        .values()
        .iter()
        .enumerate()
        .map(|(i, d)| DomainPattern::parse(d, &format!("{at}.domain[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    if domains.is_empty() {
        return Err(format!("{at}.domain: give at least one host"));
    }
    // Anchored: the whole path must match (an unanchored `/public` would also match
    // `/x/public`).
    let anchored = |patterns: &[String], field: &str, ignore_case: bool| {
        patterns
            .iter()
            .enumerate()
            .map(|(i, r)| {
                regex::RegexBuilder::new(&format!("^(?:{r})$"))
                    .case_insensitive(ignore_case)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| format!("{at}.{field}[{i}]: not a regular expression: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let resources = anchored(&rule.resources, "resources", ignore_case)?;
    if let Some(i) = rule.resources.iter().position(|r| r.contains("\\?")) {
        // A literal `?` never appears in a path: the rule would silently match nothing.
        return Err(format!(
            "{at}.resources[{i}]: resources match the path only, which never holds a '?': put the query's pattern in {at}.query"
        ));
    }
    let query = anchored(&rule.query, "query", false)?;
    let methods = rule
        .methods
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let upper = m.to_ascii_uppercase();
            Method::from_bytes(upper.as_bytes())
                .ok()
                .filter(|_| upper.bytes().all(|b| b.is_ascii_uppercase()))
                .ok_or_else(|| format!("{at}.methods[{i}]: {m:?} is not an HTTP method"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let networks = rule
        .networks
        .iter()
        .enumerate()
        .map(|(i, n)| {
            n.parse::<IpNet>()
                .or_else(|_| n.parse::<IpAddr>().map(IpNet::from))
                .map(|n| n.trunc())
                .map_err(|_| format!("{at}.networks[{i}]: {n:?} is not an address or network"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let subjects = compile_subjects(rule.subject.values(), &format!("{at}.subject"))?;
    Ok(Rule {
        domains,
        resources,
        resource_text: rule.resources.clone(),
        query,
        methods,
        networks,
        subjects,
        policy: Policy::parse(&rule.policy, &format!("{at}.policy"))?,
    })
}

/// `user:NAME` and `group:NAME` entries, checked; an error names `field[i]`.
pub(crate) fn compile_subjects(values: &[String], field: &str) -> Result<Vec<Subject>, String> {
    values
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let subject = match s.split_once(':') {
                Some(("user", name)) => palisade::validate::Username::parse(name)
                    .ok()
                    .map(|u| Subject::User(u.as_str().to_owned())),
                Some(("group", name)) if is_group_name(name) => {
                    Some(Subject::Group(name.to_owned()))
                }
                _ => None,
            };
            subject.ok_or_else(|| {
                format!(
                    "{field}[{i}]: {s:?} is not user:NAME or group:NAME (a valid username or group name)"
                )
            })
        })
        .collect()
}
