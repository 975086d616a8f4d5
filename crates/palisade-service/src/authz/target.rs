//! The request a proxy asks about, as the proxy describes it, normalized the way the app
//! behind it will read it — or refused. Rules are matched on the normalized form, so
//! `/public/../admin`, `//admin`, `/%61dmin` and `/public/%2e%2e/admin` are all `/admin`;
//! what cannot be normalized without guessing how the app reads it (an encoded `/` or `\`,
//! `..;`, a double-encoded escape, a control character, a fragment) is refused, never
//! matched as written. Invalid UTF-8 once decoded (overlong `%c0%ae`) is refused too.
//!
//! How the app reads what is left is the operator's to say ([`PathReading`]): `;` path
//! parameters are refused unless told to strip or keep them (Tomcat and Spring drop them,
//! so `/admin;x=1` is `/admin` there); IIS drops trailing dots and spaces of a segment.

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
    /// `:port` as sent, or empty (also for the scheme's default port).
    pub(crate) port: String,
    /// The normalized path: what the rules' `resources` match.
    pub(crate) path: String,
    /// The query as sent (its escapes checked), without `?`: what `query` matches.
    pub(crate) query: Option<String>,
    pub(crate) client: IpAddr,
}

/// What `;` path parameters are taken to mean.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum PathParameters {
    /// A `;` in the path is refused (the default): apps read it differently.
    #[default]
    Refuse,
    /// Each segment's `;…` is dropped before matching, as Tomcat and Spring do.
    Strip,
    /// Kept as part of the segment (`..;` is still refused).
    Keep,
}

/// How the apps behind read paths, so the rules see the path the app will act on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PathReading {
    /// `;` path parameters.
    pub(crate) parameters: PathParameters,
    /// Trailing dots and spaces of each segment are dropped (IIS: `/admin.` is `/admin`).
    pub(crate) strip_trailing_dots_and_spaces: bool,
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
        reading: &PathReading,
    ) -> Result<Self, Malformed> {
        let https = match proto {
            "https" => true,
            "http" => false,
            _ => return Err(malformed("proto", "not http or https")),
        };
        let (host, mut port) = split_host(host)?;
        if port == if https { ":443" } else { ":80" } {
            port.clear();
        }
        let (path, query) = normalize_resource(uri, reading)?;
        Ok(Self {
            method: parse_method(method)?,
            https,
            host,
            port,
            path,
            query,
            client,
        })
    }

    /// From a method and an absolute URL (`X-Original-Method`, `X-Original-URL`).
    pub(crate) fn from_url(
        method: &str,
        url: &str,
        client: IpAddr,
        reading: &PathReading,
    ) -> Result<Self, Malformed> {
        let (proto, rest) = url
            .split_once("://")
            .ok_or_else(|| malformed("url", "not an absolute http(s) URL"))?;
        let slash = rest.find('/').unwrap_or(rest.len());
        let (authority, uri) = rest.split_at(slash);
        if authority.contains('@') {
            return Err(malformed("url", "user information in the URL"));
        }
        let uri = if uri.is_empty() { "/" } else { uri };
        Self::from_parts(method, proto, authority, uri, client, reading)
    }

    /// The original URL, rebuilt from the normalized parts (for the way back after login).
    pub(crate) fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        let query = self
            .query
            .as_deref()
            .map_or(String::new(), |q| format!("?{q}"));
        format!("{scheme}://{}{}{}{query}", self.host, self.port, self.path)
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

/// Normalizes `path?query` into the path and the query: percent-encoded unreserved
/// characters decoded, other escapes upper-cased, empty and `.` segments dropped, `..`
/// resolved, `reading` applied; the query kept as sent (its escapes checked). Refuses what
/// an app might read differently.
pub(crate) fn normalize_resource(
    uri: &str,
    reading: &PathReading,
) -> Result<(String, Option<String>), Malformed> {
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
    if let Some(query) = query {
        check_escapes(query)?;
    }
    let query = query.map(str::to_owned);
    if path.contains(';') && reading.parameters == PathParameters::Refuse {
        return Err(malformed(
            "uri",
            "a ';' path parameter (apps read them differently; see access_control.path_parameters)",
        ));
    }
    // Most paths need no work: no escape, no empty or dot segment, nothing to strip.
    let strips = reading.strip_trailing_dots_and_spaces && path.contains('.')
        || reading.parameters == PathParameters::Strip && path.contains(';');
    if !path.contains('%') && !path.contains("//") && !path.contains("/.") && !strips {
        return Ok((path.to_owned(), query));
    }
    let decoded = decode_path(path)?;
    let mut segments: Vec<&str> = Vec::new();
    let parts: Vec<&str> = decoded.split('/').skip(1).collect();
    let mut ends_in_directory = false;
    for (i, segment) in parts.iter().enumerate() {
        let mut segment = *segment;
        if reading.parameters == PathParameters::Strip {
            segment = segment.split(';').next().unwrap_or("");
        }
        if reading.strip_trailing_dots_and_spaces && !matches!(segment, "." | "..") {
            segment = strip_trailing_dots_and_spaces(segment);
        }
        let last = i + 1 == parts.len();
        match segment {
            "" | "." => ends_in_directory = last,
            ".." => {
                segments.pop();
                ends_in_directory = last;
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
    if out.is_empty() || ends_in_directory {
        out.push('/');
    }
    Ok((out, query))
}

/// `seg`, without trailing `.` and (encoded) spaces.
fn strip_trailing_dots_and_spaces(mut seg: &str) -> &str {
    loop {
        if let Some(rest) = seg.strip_suffix('.') {
            seg = rest;
        } else if let Some(rest) = seg.strip_suffix("%20") {
            seg = rest;
        } else {
            return seg;
        }
    }
}

fn decode_path(path: &str) -> Result<String, Malformed> {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    // Every escape decoded, to check that the path is UTF-8 as an app would decode it:
    // an overlong `%c0%ae` is `.` to a lax decoder and an error to a strict one.
    let mut raw = Vec::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i] as char);
            raw.push(bytes[i]);
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
        raw.push(byte);
        match byte {
            b'/' | b'\\' => return Err(malformed("uri", "an encoded '/' or '\\'")),
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
    if std::str::from_utf8(&raw).is_err() {
        return Err(malformed(
            "uri",
            "not UTF-8 once decoded (an overlong or broken sequence)",
        ));
    }
    // `%252e` is `%2e` to an app that decodes twice, and so is `%252%65`: the check is on
    // the decoded path, where every hex digit stands as itself and a decoded `%` as `%25`.
    let double = out
        .as_bytes()
        .windows(5)
        .any(|w| w.starts_with(b"%25") && w[3].is_ascii_hexdigit() && w[4].is_ascii_hexdigit());
    if double {
        return Err(malformed("uri", "a double-encoded escape"));
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

    const KEEP: PathReading = PathReading {
        parameters: PathParameters::Keep,
        strip_trailing_dots_and_spaces: false,
    };

    fn path(uri: &str, reading: &PathReading) -> Result<String, Malformed> {
        normalize_resource(uri, reading).map(|(path, query)| match query {
            Some(query) => format!("{path}?{query}"),
            None => path,
        })
    }

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
            ("/admin.", "/admin."),
        ] {
            assert_eq!(path(sent, &KEEP).as_deref(), Ok(read), "{sent}");
        }
        // The query is apart from the path (the rules' resources never see it).
        assert_eq!(
            normalize_resource("/admin?x=1", &KEEP),
            Ok(("/admin".to_owned(), Some("x=1".to_owned())))
        );
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
            // Double encoding spread over escapes (found by fuzz/authz_target): `%25`, `2`,
            // `%65` is `%2e` after one decoding.
            "/public/%252%65%252%65/admin",
            "/pp/'.%254%44:ml4",
            "/a%25%34%31",
            "/a%00b",
            "/a%0d%0aSet-Cookie:x",
            "/a b",
            "/a\u{e9}",
            "/a#frag",
            "/a%zz",
            "/a%2",
            "/a?b=%zz",
            // Overlong and broken UTF-8: `.` to a lax decoder, an error to a strict one.
            "/public/%c0%ae%c0%ae/admin",
            "/%c0%afadmin",
            "/a%e0%80%ae",
            "/a%ff",
            "/a%c3",
            "/a%ed%a0%80",
        ] {
            assert!(path(sent, &KEEP).is_err(), "{sent:?} was accepted");
        }
        assert!(path(&format!("/{}", "a".repeat(MAX_URI)), &KEEP).is_err());
    }

    /// `/admin;x=1` is `/admin` to Tomcat and Spring: refused by default, read their way
    /// when told to strip; IIS drops trailing dots and spaces when told.
    #[test]
    fn path_parameters_and_trailing_dots_as_the_operator_says_the_app_reads_them() {
        let default = PathReading::default();
        for sent in ["/admin;x=1", "/admin;", "/a;b/admin", "/public/..;/admin"] {
            assert!(path(sent, &default).is_err(), "{sent}");
        }
        assert_eq!(path("/admin", &default).as_deref(), Ok("/admin"));
        assert_eq!(path("/admin?a=;", &default).as_deref(), Ok("/admin?a=;"));
        let strip = PathReading {
            parameters: PathParameters::Strip,
            ..default
        };
        for (sent, read) in [
            ("/admin;x=1", "/admin"),
            ("/admin;jsessionid=1/users", "/admin/users"),
            ("/public/..;/admin", "/admin"),
            ("/public;x/../admin", "/admin"),
        ] {
            assert_eq!(path(sent, &strip).as_deref(), Ok(read), "{sent}");
        }
        let iis = PathReading {
            strip_trailing_dots_and_spaces: true,
            ..KEEP
        };
        for (sent, read) in [
            ("/admin.", "/admin"),
            ("/admin%20", "/admin"),
            ("/admin.%20.", "/admin"),
            ("/admin./users", "/admin/users"),
            ("/file.txt", "/file.txt"),
        ] {
            assert_eq!(path(sent, &iis).as_deref(), Ok(read), "{sent}");
        }
    }

    #[test]
    fn hosts_ports_schemes_and_methods() {
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        let t = Target::from_parts("GET", "https", "App.Example.COM.:8443", "/x", client, &KEEP)
            .unwrap();
        assert_eq!(
            (t.host.as_str(), t.port.as_str()),
            ("app.example.com", ":8443")
        );
        assert_eq!(t.url(), "https://app.example.com:8443/x");
        // The scheme's own port is no part of the way back.
        for (proto, host) in [("https", "a.example.com:443"), ("http", "a.example.com:80")] {
            let t = Target::from_parts("GET", proto, host, "/x?y", client, &KEEP).unwrap();
            assert_eq!(t.url(), format!("{proto}://a.example.com/x?y"));
        }
        let t = Target::from_parts("GET", "http", "a.example.com:443", "/", client, &KEEP).unwrap();
        assert_eq!(t.port, ":443");
        let t = Target::from_url("POST", "http://app.example.com", client, &KEEP).unwrap();
        assert_eq!(
            (t.method, t.https, t.path.as_str()),
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
                Target::from_parts(method, proto, host, "/", client, &KEEP).is_err(),
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
            assert!(
                Target::from_url("GET", url, client, &KEEP).is_err(),
                "{url}"
            );
        }
    }
}
