//! A second opinion in MDN HTTP Observatory's terms: the single "expectation" that
//! scanner assigns a CSP header, so results can be compared with its public test suite and
//! grades. Written from the published rules: first matching category wins.

use std::collections::{BTreeMap, BTreeSet};

const BROAD: &[&str] = &[
    "ftp:",
    "http:",
    "https:",
    "*",
    "http://*",
    "http://*.*",
    "https://*",
    "https://*.*",
];

fn broad_or_inline(source: &str) -> bool {
    BROAD.contains(&source) || source == "'unsafe-inline'" || source == "data:"
}

fn nonce_or_hash(sources: &BTreeSet<String>) -> bool {
    sources.iter().any(|s| {
        ["'sha256-", "'sha384-", "'sha512-", "'nonce-"]
            .iter()
            .any(|p| s.starts_with(p))
    })
}

type Parsed = BTreeMap<String, BTreeSet<String>>;

/// The Observatory's stricter parse: a duplicate directive (other than reporting ones) or a
/// policy shorter than the shortest directive makes the header invalid; sources are
/// lower-cased; an empty source list means `'none'`; several policies keep only the sources
/// they share.
fn parse(header: &str) -> Result<Parsed, ()> {
    let header: String = header
        .chars()
        .filter(|c| *c != '\r' && *c != '\n')
        .collect();
    let mut combined: Option<Parsed> = None;
    for policy in header.split(',').map(str::trim) {
        if policy.len() < "img-src".len() - 1 {
            return Err(());
        }
        let mut parsed = Parsed::new();
        for entry in policy.split(';') {
            let mut tokens = entry.split_ascii_whitespace();
            let Some(name) = tokens.next() else { continue };
            let name = name.to_ascii_lowercase();
            let mut sources: BTreeSet<String> = tokens.map(str::to_lowercase).collect();
            if sources.is_empty() && name.ends_with("-src") {
                sources.insert("'none'".into());
            }
            if parsed.contains_key(&name) {
                if name == "report-uri" || name == "report-to" {
                    continue;
                }
                return Err(());
            }
            parsed.insert(name, sources);
        }
        combined = Some(match combined {
            None => parsed,
            Some(mut first) => {
                for (name, sources) in parsed {
                    let merged = match first.remove(&name) {
                        Some(old) => old.intersection(&sources).cloned().collect(),
                        None => sources,
                    };
                    first.insert(name, merged);
                }
                first
            }
        });
    }
    Ok(combined.unwrap_or_default())
}

/// The Observatory expectation for a `Content-Security-Policy` header value served over
/// HTTPS (`https`) or not.
pub fn observatory_expectation(header: &str, https: bool) -> &'static str {
    let Ok(csp) = parse(header) else {
        return "CspHeaderInvalid";
    };
    if csp.is_empty() {
        return "CspNotImplemented";
    }
    let get = |n: &str| csp.get(n).cloned();
    let star = || BTreeSet::from(["*".to_owned()]);
    let object_src = get("object-src")
        .or_else(|| get("default-src"))
        .unwrap_or_else(star);
    let mut script_src = get("script-src")
        .or_else(|| get("default-src"))
        .unwrap_or_else(star);
    let mut style_src = get("style-src")
        .or_else(|| get("default-src"))
        .unwrap_or_else(star);
    for list in [&mut script_src, &mut style_src] {
        if nonce_or_hash(list) {
            list.remove("'unsafe-inline'");
        }
    }
    if script_src.contains("'strict-dynamic'") {
        if !nonce_or_hash(&script_src) {
            return "CspHeaderInvalid";
        }
        script_src.retain(|s| {
            !(BROAD.iter().any(|b| s.starts_with(b)) || s == "'self'" || s == "'unsafe-inline'")
        });
    }
    let insecure = |s: &String| s.starts_with("http:") || s.starts_with("ftp:");
    let active: Vec<&String> = csp
        .iter()
        .filter(|(n, _)| !["img-src", "media-src", "script-src"].contains(&n.as_str()))
        .flat_map(|(_, v)| v.iter())
        .chain(script_src.iter())
        .collect();
    let passive: Vec<String> = ["img-src", "media-src"]
        .iter()
        .flat_map(|n| get(n).or_else(|| get("default-src")).unwrap_or_default())
        .collect();
    if script_src.iter().any(|s| broad_or_inline(s))
        || object_src.iter().any(|s| BROAD.contains(&s.as_str()))
    {
        "CspImplementedWithUnsafeInline"
    } else if https && active.iter().any(|s| insecure(s)) {
        "CspImplementedWithInsecureScheme"
    } else if script_src.contains("'unsafe-eval'") || style_src.contains("'unsafe-eval'") {
        "CspImplementedWithUnsafeEval"
    } else if https && passive.iter().any(insecure) {
        "CspImplementedWithInsecureSchemeInPassiveContentOnly"
    } else if style_src.iter().any(|s| broad_or_inline(s)) {
        "CspImplementedWithUnsafeInlineInStyleSrcOnly"
    } else if get("default-src").is_some_and(|d| d.len() == 1 && d.contains("'none'")) {
        "CspImplementedWithNoUnsafeDefaultSrcNone"
    } else {
        "CspImplementedWithNoUnsafe"
    }
}
