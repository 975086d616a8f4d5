//! A session's or a token's browser, named for people ("Firefox on Linux") from its
//! user-agent string by woothee's dataset, never by regexes of ours.

const UNKNOWN: &str = woothee::woothee::VALUE_UNKNOWN;

/// "Firefox on Linux", "Safari on iPhone", "curl", or "An unknown browser".
pub(crate) fn describe(user_agent: &str) -> String {
    let parsed = woothee::parser::Parser::new().parse(user_agent);
    let (name, os) = match &parsed {
        // Browsers on computers, phones and devices; crawlers and libraries ("HTTP
        // Library") are better named by the product they give.
        Some(found)
            if found.name != UNKNOWN
                && matches!(
                    found.category,
                    "pc" | "smartphone" | "mobilephone" | "appliance"
                ) =>
        {
            (found.name.to_string(), found.os.to_string())
        }
        // A program (curl, a script) names itself first: `curl/8.5.0` → `curl`.
        _ => {
            let product = user_agent.split(['/', ' ']).next().unwrap_or_default();
            let plain = product
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if product.is_empty() || product.len() > 32 || !plain || product == "Mozilla" {
                return "An unknown browser".into();
            }
            return product.to_owned();
        }
    };
    let os = match os.as_str() {
        "Mac OSX" => "macOS",
        "Windows UNKNOWN Ver" => "Windows",
        os => os,
    };
    if os == UNKNOWN || os.is_empty() {
        name
    } else {
        format!("{name} on {os}")
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn browsers_are_named_for_people() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox on Linux",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                "Safari on iPhone",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "Chrome on macOS",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge on Windows 10",
            ),
            ("curl/8.5.0", "curl"),
            ("", "An unknown browser"),
            ("<script>alert(1)</script>", "An unknown browser"),
        ];
        for (agent, said) in cases {
            assert_eq!(describe(agent), said, "{agent}");
        }
    }
}
