//! CSP parsing and evaluation: never panics, and a policy that parses re-serializes to one
//! that parses the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade::csp_eval::{Policy, evaluate};

fn serialize(policy: &Policy) -> String {
    policy
        .directives
        .iter()
        .map(|d| {
            std::iter::once(d.name.as_str())
                .chain(d.values.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    let report = evaluate(header);
    for policy in &report.policies {
        let again = evaluate(&serialize(policy));
        let reparsed = again.policies.first().map(|p| &p.directives);
        if policy.directives.is_empty() {
            continue;
        }
        assert_eq!(
            Some(&policy.directives),
            reparsed,
            "re-serialized policy parses differently: {header:?}"
        );
    }
});
