//! Where a login may send the browser back to (`rd`): only an absolute `https` URL on
//! `public_origin`'s host or under `cookie_domain` (`http` too on a loopback host, for
//! development). Everything else — `//evil`, `/\evil`, `https://example.com.evil.net`,
//! `https://example.com@evil.net`, whitespace, `javascript:`, `data:` — is dropped, and the
//! login goes to the account page. What is followed is the URL as parsed and serialized
//! again, never the text as given, so a browser cannot read it differently.

use url::{Host, Url};

/// Longest `rd` considered.
const MAX_LEN: usize = 4096;

#[derive(Debug, Clone)]
pub(crate) struct ReturnTo {
    /// `public_origin`'s host.
    origin_host: String,
    /// `cookie_domain`, if set: it and every host under it.
    cookie_domain: Option<String>,
}

impl ReturnTo {
    pub(crate) fn new(origin: &str, cookie_domain: Option<&str>) -> Self {
        let origin_host = Url::parse(origin)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        Self {
            origin_host,
            cookie_domain: cookie_domain.map(str::to_owned),
        }
    }

    /// `rd` as it may be followed, or `None`.
    pub(crate) fn check(&self, rd: &str) -> Option<String> {
        if rd.len() > MAX_LEN || !rd.bytes().all(|b| b.is_ascii_graphic()) || rd.contains('\\') {
            return None;
        }
        let lower = rd.get(..8)?.to_ascii_lowercase();
        if !lower.starts_with("https://") && !lower.starts_with("http://") {
            return None;
        }
        let url = Url::parse(rd).ok()?;
        if !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        let (host, loopback) = match url.host()? {
            Host::Domain(name) => (name.to_owned(), name == "localhost"),
            Host::Ipv4(addr) => (addr.to_string(), addr.is_loopback()),
            Host::Ipv6(_) => return None,
        };
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => return None,
        };
        if !(https || loopback) || !self.allows_host(&host) {
            return None;
        }
        Some(url.into())
    }

    fn allows_host(&self, host: &str) -> bool {
        if host == self.origin_host {
            return true;
        }
        self.cookie_domain.as_deref().is_some_and(|domain| {
            host == domain
                || host
                    .strip_suffix(domain)
                    .is_some_and(|rest| rest.ends_with('.') && rest.len() > 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_hosts_and_https() {
        let r = ReturnTo::new("https://accounts.example.com", Some("example.com"));
        for good in [
            "https://accounts.example.com/account",
            "https://app.example.com/page?x=1",
            "https://a.b.example.com:8443/",
            "https://example.com/",
            "HTTPS://APP.EXAMPLE.COM/x",
        ] {
            assert!(r.check(good).is_some(), "{good}");
        }
        assert_eq!(
            r.check("HTTPS://APP.EXAMPLE.COM/a/../b").as_deref(),
            Some("https://app.example.com/b")
        );
        for bad in [
            "//evil.net",
            "/\\evil.net",
            "/account",
            "https://example.com.evil.net/",
            "https://evilexample.com/",
            "https://example.com@evil.net/",
            "https://user:pw@app.example.com/",
            "https://app.example.com%2f@evil.net/",
            "https://evil.net\\@app.example.com/",
            "http://app.example.com/",
            "javascript:alert(1)//https://app.example.com",
            "data:text/html,<script>",
            "https://app.example.com/ x",
            "https://%09/evil.net",
            "\thttps://app.example.com/",
            "https://[::1]/",
            "ftp://app.example.com/",
            "",
        ] {
            assert!(r.check(bad).is_none(), "{bad} was accepted");
        }
        assert!(
            r.check(&format!("https://app.example.com/{}", "a".repeat(MAX_LEN)))
                .is_none()
        );
    }

    #[test]
    fn without_cookie_domain_only_the_origin_host() {
        let r = ReturnTo::new("https://accounts.example.com", None);
        assert!(r.check("https://accounts.example.com/x").is_some());
        assert!(r.check("https://app.example.com/x").is_none());
        let dev = ReturnTo::new("http://127.0.0.1:8080", None);
        assert!(dev.check("http://127.0.0.1:8080/account").is_some());
        assert!(dev.check("http://127.0.0.2:8080/account").is_none());
    }
}
