//! The request a proxy asks about, as the proxy describes it, normalized the way the app
//! behind it will read it — or refused. Rules are matched on the normalized form, so
//! `/public/../admin`, `//admin`, `/%61dmin` and `/public/%2e%2e/admin` are all `/admin`;
//! what cannot be normalized without guessing how the app reads it (an encoded `/` or `\`,
//! `..;`, a double-encoded escape, a control character, a fragment) is refused, never
//! matched as written.

use std::net::IpAddr;

use http::Method;

/// Longest host, path and query accepted (nginx's default header buffer is 8 KiB).
const MAX_URI: usize = 8 * 1024;

/// The original request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) method: Method,
    pub(crate) https: bool,
    /// Lowercase, without port or trailing dot.
    pub(crate) host: String,
    /// `:port` as sent, or empty.
    pub(crate) port: String,
    /// The normalized path, and `?query` as sent when there is one.
    pub(crate) resource: String,
    pub(crate) client: IpAddr,
}

/// Why a description of the original request was refused (names the part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed(pub(crate) String);

fn malformed(what: &str, why: &str) -> Malformed {
    Malformed(format!("{what}: {why}"))
}

impl Target {
    /// From separate parts (`X-Forwarded-Method`, `-Proto`, `-Host`, `-Uri`).
    pub(crate) fn from_parts(
        method: &str,
        proto: &str,
        host: &str,
        uri: &str,
        client: IpAddr,
    ) -> Result<Self, Malformed> {
        let https = match proto {
            "https" => true,
            "http" => false,
            _ => return Err(malformed("proto", "not http or https")),
        };
        let (host, port) = split_host(host)?;
        Ok(Self {
            method: parse_method(method)?,
            https,
            host,
            port,
            resource: normalize_resource(uri)?,
            client,
        })
    }

    /// From a method and an absolute URL (`X-Original-Method`, `X-Original-URL`).
    pub(crate) fn from_url(method: &str, url: &str, client: IpAddr) -> Result<Self, Malformed> {
        let (proto, rest) = url
            .split_once("://")
            .ok_or_else(|| malformed("url", "not an absolute http(s) URL"))?;
        let slash = rest.find('/').unwrap_or(rest.len());
        let (authority, uri) = rest.split_at(slash);
        if authority.contains('@') {
            return Err(malformed("url", "user information in the URL"));
        }
        let uri = if uri.is_empty() { "/" } else { uri };
        Self::from_parts(method, proto, authority, uri, client)
    }

    /// The original URL, rebuilt from the normalized parts (for the way back after login).
    pub(crate) fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{}{}", self.host, self.port, self.resource)
    }
}

fn parse_method(method: &str) -> Result<Method, Malformed> {
    if method.is_empty() || method.len() > 32 || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(malformed("method", "not an HTTP method"));
    }
    Method::from_bytes(method.as_bytes()).map_err(|_| malformed("method", "not an HTTP method"))
}

/// A host name: dot-separated labels of letters, digits and `-` (not at either end).
pub(crate) fn is_hostname(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

fn split_host(host: &str) -> Result<(String, String), Malformed> {
    let lower = host.to_ascii_lowercase();
    let (name, port) = match lower.rsplit_once(':') {
        Some((name, port)) => {
            if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
                return Err(malformed("host", "not a host name with an optional port"));
            }
            (name, format!(":{port}"))
        }
        None => (lower.as_str(), String::new()),
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    if !is_hostname(name) {
        return Err(malformed("host", "not a host name with an optional port"));
    }
    Ok((name.to_owned(), port))
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Normalizes `path?query`: percent-encoded unreserved characters decoded, other escapes
/// upper-cased, empty and `.` segments dropped, `..` resolved; the query kept as sent
/// (its escapes checked). Refuses what an app might read differently.
pub(crate) fn normalize_resource(uri: &str) -> Result<String, Malformed> {
    if uri.len() > MAX_URI {
        return Err(malformed("uri", "too long"));
    }
    if !uri.starts_with('/') {
        return Err(malformed("uri", "does not start with '/'"));
    }
    if let Some(bad) = uri
        .bytes()
        .find(|b| !b.is_ascii_graphic() || matches!(b, b'\\' | b'#'))
    {
        let why = match bad {
            b'#' => "a fragment",
            b'\\' => "a backslash",
            _ => "a space, control or non-ASCII character",
        };
        return Err(malformed("uri", why));
    }
    let (path, query) = match uri.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (uri, None),
    };
    // Most paths need no work: no escape, no empty or dot segment.
    if !path.contains('%') && !path.contains("//") && !path.contains("/.") {
        if let Some(query) = query {
            check_escapes(query)?;
        }
        return Ok(uri.to_owned());
    }
    let decoded = decode_path(path)?;
    let mut segments: Vec<&str> = Vec::new();
    let parts: Vec<&str> = decoded.split('/').skip(1).collect();
    for segment in &parts {
        match *segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => {
                // `..;x` and `.;x` are `..` and `.` to some servers (Tomcat).
                let before_params = other.split(';').next().unwrap_or("");
                if before_params == "." || before_params == ".." {
                    return Err(malformed("uri", "a dot segment with parameters"));
                }
                segments.push(other);
            }
        }
    }
    let mut out = String::with_capacity(uri.len());
    for segment in &segments {
        out.push('/');
        out.push_str(segment);
    }
    let ends_in_directory = matches!(parts.last(), Some(&"" | &"." | &".."));
    if out.is_empty() || ends_in_directory {
        out.push('/');
    }
    if let Some(query) = query {
        check_escapes(query)?;
        out.push('?');
        out.push_str(query);
    }
    Ok(out)
}

fn decode_path(path: &str) -> Result<String, Malformed> {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i] as char);
            i += 1;
            continue;
        }
        let (Some(hi), Some(lo)) = (
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) else {
            return Err(malformed("uri", "a '%' not followed by two hex digits"));
        };
        let byte = hi << 4 | lo;
        match byte {
            b'/' | b'\\' => return Err(malformed("uri", "an encoded '/' or '\\'")),
            // `%252e` is `%2e` to an app that decodes twice.
            b'%' if bytes.get(i + 3).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 4).is_some_and(u8::is_ascii_hexdigit) =>
            {
                return Err(malformed("uri", "a double-encoded escape"));
            }
            0..=0x1f | 0x7f => return Err(malformed("uri", "an encoded control character")),
            b if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') => {
                out.push(b as char)
            }
            b => {
                out.push('%');
                out.push_str(&format!("{b:02X}"));
            }
        }
        i += 3;
    }
    Ok(out)
}

fn check_escapes(query: &str) -> Result<(), Malformed> {
    let bytes = query.as_bytes();
    for (i, _) in bytes.iter().enumerate().filter(|(_, b)| **b == b'%') {
        if bytes.get(i + 1).copied().and_then(hex).is_none()
            || bytes.get(i + 2).copied().and_then(hex).is_none()
        {
            return Err(malformed("uri", "a '%' not followed by two hex digits"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_read_the_way_an_app_reads_them() {
        for (sent, read) in [
            ("/", "/"),
            ("/admin", "/admin"),
            ("/public/../admin", "/admin"),
            ("/public/./../admin/", "/admin/"),
            ("//admin", "/admin"),
            ("/%61dmin", "/admin"),
            ("/public/%2e%2e/admin", "/admin"),
            ("/public/%2E%2e/admin", "/admin"),
            ("/../../admin", "/admin"),
            ("/a/b/..", "/a/"),
            ("/a/b/.", "/a/b/"),
            ("/a%20b", "/a%20b"),
            ("/a%c3%a9", "/a%C3%A9"),
            ("/public?next=/admin", "/public?next=/admin"),
            ("/public/..?x=%2f", "/?x=%2f"),
            ("/a;v=1/b", "/a;v=1/b"),
        ] {
            assert_eq!(normalize_resource(sent).as_deref(), Ok(read), "{sent}");
        }
    }

    #[test]
    fn what_an_app_might_read_differently_is_refused() {
        for sent in [
            "",
            "admin",
            "/public/..%2fadmin",
            "/public/..%2Fadmin",
            "/public\\..\\admin",
            "/public/%5c../admin",
            "/public/..;/admin",
            "/public/.;x/admin",
            "/public/%252e%252e/admin",
            "/a%00b",
            "/a%0d%0aSet-Cookie:x",
            "/a b",
            "/a\u{e9}",
            "/a#frag",
            "/a%zz",
            "/a%2",
            "/a?b=%zz",
        ] {
            assert!(normalize_resource(sent).is_err(), "{sent:?} was accepted");
        }
        assert!(normalize_resource(&format!("/{}", "a".repeat(MAX_URI))).is_err());
    }

    #[test]
    fn hosts_ports_schemes_and_methods() {
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        let t = Target::from_parts("GET", "https", "App.Example.COM.:8443", "/x", client).unwrap();
        assert_eq!(
            (t.host.as_str(), t.port.as_str()),
            ("app.example.com", ":8443")
        );
        assert_eq!(t.url(), "https://app.example.com:8443/x");
        let t = Target::from_url("POST", "http://app.example.com", client).unwrap();
        assert_eq!(
            (t.method, t.https, t.resource.as_str()),
            (Method::POST, false, "/")
        );
        for (method, proto, host) in [
            ("GET", "ftp", "app.example.com"),
            ("GET", "", "app.example.com"),
            ("get", "https", "app.example.com"),
            ("G ET", "https", "app.example.com"),
            ("GET", "https", ""),
            ("GET", "https", "app.example.com:"),
            ("GET", "https", "app.example.com:99999a"),
            ("GET", "https", "app_example.com"),
            ("GET", "https", "-app.example.com"),
            ("GET", "https", "[::1]"),
            ("GET", "https", "evil.com/x"),
        ] {
            assert!(
                Target::from_parts(method, proto, host, "/", client).is_err(),
                "{method} {proto} {host}"
            );
        }
        for url in [
            "https://user@app.example.com/",
            "https://app.example.com@evil.net/",
            "//app.example.com/",
            "app.example.com/",
            "javascript:alert(1)",
        ] {
            assert!(Target::from_url("GET", url, client).is_err(), "{url}");
        }
    }
}
