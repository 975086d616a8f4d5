use super::*;

fn ids(csp: &str) -> Vec<&'static str> {
    evaluate(csp).findings.iter().map(|f| f.id).collect()
}

#[test]
fn strict_policy_has_only_information() {
    let csp = "default-src 'none'; script-src 'nonce-Zm9vYmFyYmF6cXV4MTIz' 'strict-dynamic'; style-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'; report-to csp";
    let report = evaluate(csp);
    assert!(
        report.worst() <= Some(Severity::Info),
        "{:#?}",
        report.findings
    );
}

#[cfg(feature = "http")]
#[test]
fn palisades_own_default_policy_has_only_information() {
    let ours = crate::http::CspPolicy::strict().render("Zm9vYmFyYmF6cXV4MTIzNDU2", true);
    assert!(
        evaluate(&ours).worst() <= Some(Severity::Info),
        "{:#?}",
        evaluate(&ours).findings
    );
}

#[test]
fn the_classic_weaknesses() {
    assert!(ids("script-src 'unsafe-inline'").contains(&"script-unsafe-inline"));
    assert!(ids("default-src 'unsafe-inline'").contains(&"script-unsafe-inline"));
    assert!(
        ids("script-src 'nonce-abcdefgh12' 'unsafe-inline'")
            .contains(&"script-unsafe-inline-fallback")
    );
    assert!(ids("script-src 'unsafe-eval'").contains(&"script-unsafe-eval"));
    assert!(ids("script-src data: https:").contains(&"script-plain-scheme"));
    assert!(ids("script-src *").contains(&"script-wildcard"));
    assert!(ids("script-src https://*").contains(&"script-wildcard"));
    assert!(ids("script-src *.google.com").contains(&"script-allowlist-bypass"));
    assert!(ids("script-src https://ajax.googleapis.com").contains(&"script-allowlist-bypass"));
    assert!(ids("script-src foo.bar").contains(&"script-host-allowlist"));
    assert!(ids("script-src 'strict-dynamic'").contains(&"strict-dynamic-without-nonce"));
    assert!(ids("script-src 'nonce-short'").contains(&"short-nonce"));
    assert!(ids("script-src 'nonce-aaaaaaaaaa'").contains(&"static-nonce"));
    assert!(ids("script-src 'none'").contains(&"missing-object-src"));
    assert!(
        ids("script-src 'nonce-r4nd0mV4lu3xyz'; object-src 'none'").contains(&"missing-base-uri")
    );
    assert!(ids("object-src 'none'").contains(&"missing-script-src"));
    assert!(ids("script-src http://foo.bar").contains(&"insecure-scheme"));
    assert!(ids("script-src 8.8.8.8").contains(&"ip-source"));
    assert!(ids("block-all-mixed-content").contains(&"deprecated-directive"));
    assert!(ids("report-uri /r").contains(&"report-uri-only"));
    assert!(ids("style-src 'unsafe-inline'").contains(&"style-unsafe-inline"));
    assert!(ids("").contains(&"empty-policy"));
    // strict-dynamic with a nonce: hosts and schemes are ignored by browsers, not flagged.
    let modern = ids("script-src 'nonce-r4nd0mV4lu3xyz' 'strict-dynamic' https: *.google.com");
    assert!(
        !modern.contains(&"script-plain-scheme") && !modern.contains(&"script-allowlist-bypass"),
        "{modern:?}"
    );
}

#[test]
fn severity_order_and_names() {
    assert!(
        Severity::High > Severity::Medium
            && Severity::Medium > Severity::Low
            && Severity::Low > Severity::Info
    );
    for s in [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
    ] {
        assert_eq!(Severity::parse(s.as_str()), Some(s));
    }
}

#[test]
fn every_public_test_policy_parses_like_csp_evaluator() {
    let Some(dir) = crate::test_helpers::testdata_dir("csp cases") else {
        return;
    };
    let cases: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("csp/csp_cases.json")).unwrap())
            .unwrap();
    let cases = cases["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 238);
    let (mut same, mut compared) = (0, 0);
    for case in cases {
        let csp = case["csp"].as_str().unwrap();
        let report = evaluate(csp); // never panics, whatever the input
        if case["file"].as_str().unwrap().ends_with("_test.ts") && !csp.contains(',') {
            compared += 1;
            let expected = case["parsed_directives"].as_object().unwrap();
            let policy = &report.policies[0];
            let matches = expected.iter().all(|(name, values)| {
                let ours = policy.get(name);
                let theirs: Vec<String> = values
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_owned())
                    .collect();
                ours.map(|o| o.iter().map(|v| v.to_ascii_lowercase()).collect::<Vec<_>>())
                    == Some(theirs.iter().map(|v| v.to_ascii_lowercase()).collect())
            });
            same += usize::from(matches);
        }
    }
    eprintln!(
        "csp_cases.json: 238 evaluated; {same} of {compared} csp-evaluator policies parse to the same directives"
    );
    assert!(same * 100 >= compared * 95, "{same}/{compared}");
}

#[test]
fn built_in_gadget_hosts_are_all_in_the_published_bypass_lists() {
    let Some(dir) = crate::test_helpers::testdata_dir("csp bypass lists") else {
        return;
    };
    let mut published = Vec::new();
    for file in ["jsonp.json", "angular.json"] {
        let v: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("csp/csp-evaluator-allowlist-bypasses").join(file))
                .unwrap(),
        )
        .unwrap();
        for key in ["urls", "needsEval"] {
            for url in v[key].as_array().into_iter().flatten() {
                let host = url
                    .as_str()
                    .unwrap()
                    .trim_start_matches('/')
                    .split('/')
                    .next()
                    .unwrap()
                    .to_owned();
                published.push(host);
            }
        }
    }
    for gadget in script::GADGET_HOSTS {
        assert!(
            published
                .iter()
                .any(|h| h == gadget || h.ends_with(&format!(".{gadget}"))),
            "{gadget} is not in the published lists"
        );
    }
    let covered = published
        .iter()
        .filter(|h| ids(&format!("script-src https://{h}")).contains(&"script-allowlist-bypass"))
        .count();
    eprintln!(
        "published JSONP/Angular hosts flagged by the built-in list: {covered} of {}",
        published.len()
    );
    // The long tail (one-off sites) is not built in; the big shared hosts are. Must not shrink.
    assert!(covered >= 56, "{covered}");
}

#[test]
fn observatory_expectations_from_its_public_test_suite() {
    let Some(dir) = crate::test_helpers::testdata_dir("csp observatory expectations") else {
        return;
    };
    let cases: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("csp/csp_cases.json")).unwrap())
            .unwrap();
    let (mut same, mut total) = (0, 0);
    let mut differ = Vec::new();
    for case in cases["cases"].as_array().unwrap() {
        let Some(expected) = case["mdn_observatory_expectation"].as_str() else {
            continue;
        };
        total += 1;
        let csp = case["csp"].as_str().unwrap();
        let ours = observatory_expectation(csp, true);
        if ours == expected {
            same += 1;
        } else {
            differ.push(format!(
                "{csp:?}: expected {expected}, got {ours} ({})",
                case["test"].as_str().unwrap_or("")
            ));
        }
    }
    eprintln!("observatory expectations: {same} of {total} match");
    for d in &differ {
        eprintln!("  {d}");
    }
    // The 13 that differ depend on context the file does not carry (the value sent as
    // Report-Only or in a <meta> tag beside another header, an older parser version, or an
    // it() block that asserts something else); see the closing note. Must not regress.
    assert!(same >= 56, "{same} of {total}");
}

/// Found by `fuzz/fuzz_targets/csp.rs`: a lone quote as a source slid a string past its end.
#[test]
fn a_lone_quote_is_a_source_not_a_panic() {
    for header in ["script-src '", "default-src ' ';", "'", "img-src ''"] {
        let report = evaluate(header);
        assert!(!report.policies.is_empty() || header == "'", "{header:?}");
    }
}
