//! The request's real scheme and client address, believing forwarded headers only from
//! trusted proxies, and only the one header the operator names: a proxy that sets
//! `X-Forwarded-For` usually passes a client's own `Forwarded` or `X-Real-IP` through
//! untouched, so believing any other header would let the client name its own address.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderMap, Request, StatusCode};
use ipnet::IpNet;
use tower::Layer;

use super::Problem;
use super::gate::{Gated, RequestGate};

/// How the connection reached this process. The TLS listener inserts
/// `ConnectionScheme::Https` into every request's extensions; its absence means plain HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionScheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

/// The scheme and client address of a request, as far as this process can trust them.
/// Inserted by [`ClientInfoLayer`]; available to handlers as an extractor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientInfo {
    /// Whether the client's connection (to us, or to the trusted proxy in front) used TLS.
    pub https: bool,
    /// The client's address: the peer, or the right-most untrusted address a trusted proxy
    /// reported.
    pub addr: IpAddr,
    /// The directly connected peer.
    pub peer: IpAddr,
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<ClientInfo>()
            .copied()
            .ok_or_else(|| {
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server-misconfigured",
                    "Server misconfigured",
                )
                .into_response()
            })
    }
}

/// The one header trusted proxies report the client's address (and scheme) in. No other is
/// ever consulted, not even when this one is absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClientAddressHeader {
    /// `X-Forwarded-For` (right-most untrusted hop), with `X-Forwarded-Proto` (the default).
    #[default]
    XForwardedFor,
    /// `Forwarded` (RFC 7239): its `for=` chain (right-most untrusted hop) and `proto=`.
    Forwarded,
    /// `X-Real-IP`: exactly one address, set by the proxy; with `X-Forwarded-Proto`.
    XRealIp,
}

impl ClientAddressHeader {
    /// From a header name (any case): `x-forwarded-for`, `forwarded` or `x-real-ip`.
    pub fn parse(name: &str) -> Result<Self, String> {
        match name.to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(Self::XForwardedFor),
            "forwarded" => Ok(Self::Forwarded),
            "x-real-ip" => Ok(Self::XRealIp),
            _ => Err(format!(
                "{name:?} is not a client address header (x-forwarded-for, forwarded or x-real-ip)"
            )),
        }
    }

    /// The header's name, lower case.
    pub fn name(self) -> &'static str {
        match self {
            Self::XForwardedFor => "x-forwarded-for",
            Self::Forwarded => "forwarded",
            Self::XRealIp => "x-real-ip",
        }
    }
}

/// Proxy networks whose forwarded headers are believed. Empty (the default) trusts nobody.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Arc<[IpNet]>,
    header: ClientAddressHeader,
}

/// A trusted proxy reported the client's address in a form that cannot be read: the
/// request is refused rather than attributed to a guess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableClientAddress(pub &'static str);

impl TrustedProxies {
    /// Trusts no proxy: scheme and address come from the connection.
    pub fn none() -> Self {
        Self::default()
    }

    /// Parses networks such as `10.0.0.0/8`, `::1/128` or a bare address.
    pub fn parse<'a>(nets: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let nets = nets
            .into_iter()
            .map(|n| {
                n.parse::<IpNet>()
                    .or_else(|_| n.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("trusted proxy {n:?} is not an IP address or network"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            nets: nets.into(),
            header: ClientAddressHeader::default(),
        })
    }

    /// Believes `header` (and only it) from these proxies.
    pub fn believing(self, header: ClientAddressHeader) -> Self {
        Self { header, ..self }
    }

    /// The header believed.
    pub fn header(&self) -> ClientAddressHeader {
        self.header
    }

    /// Whether `addr` is a trusted proxy.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        self.nets.iter().any(|n| n.contains(&addr))
    }

    /// Works out the client info for a request from `peer` over `scheme` with `headers`.
    /// A request from a trusted proxy whose header cannot be read (an element that is not
    /// an address where the chain is walked, `X-Real-IP` given twice) is an error.
    pub fn resolve(
        &self,
        peer: IpAddr,
        scheme: ConnectionScheme,
        headers: &HeaderMap,
    ) -> Result<ClientInfo, UnreadableClientAddress> {
        let peer = canonical(peer);
        let mut info = ClientInfo {
            https: scheme == ConnectionScheme::Https,
            addr: peer,
            peer,
        };
        if !self.contains(peer) {
            return Ok(info);
        }
        let (chain, proto) = match self.header {
            ClientAddressHeader::XForwardedFor => {
                (list(headers, "x-forwarded-for"), x_forwarded_proto(headers))
            }
            ClientAddressHeader::Forwarded => forwarded(headers)?,
            ClientAddressHeader::XRealIp => {
                let mut values = headers.get_all("x-real-ip").iter();
                let chain = match (values.next(), values.next()) {
                    (None, _) => Vec::new(),
                    (Some(one), None) => vec![one.to_str().unwrap_or("").trim()],
                    (Some(_), Some(_)) => {
                        return Err(UnreadableClientAddress("x-real-ip given more than once"));
                    }
                };
                (chain, x_forwarded_proto(headers))
            }
        };
        // Right to left: each trusted hop vouches for the one before it; the first
        // untrusted address is the client.
        let mut client = peer;
        for node in chain.iter().rev() {
            let Some(addr) = parse_node(node) else {
                return Err(UnreadableClientAddress(
                    "a trusted proxy's client address is not an IP address",
                ));
            };
            client = canonical(addr);
            if !self.contains(client) {
                break;
            }
        }
        info.addr = client;
        if let Some(https) = proto {
            info.https = https;
        }
        Ok(info)
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) count as the IPv4 address.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(addr),
        v4 => v4,
    }
}

/// `Forwarded` (RFC 7239): the `for=` chain and the last hop's `proto=`.
fn forwarded(headers: &HeaderMap) -> Result<(Vec<&str>, Option<bool>), UnreadableClientAddress> {
    let mut chain = Vec::new();
    let mut proto = None;
    for value in headers.get_all("forwarded") {
        let value = value
            .to_str()
            .map_err(|_| UnreadableClientAddress("forwarded is not visible ASCII"))?;
        for element in value.split(',') {
            let mut element_proto = None;
            for pair in element.split(';') {
                let Some((name, value)) = pair.trim().split_once('=') else {
                    continue;
                };
                let value = value.trim().trim_matches('"');
                match name.trim().to_ascii_lowercase().as_str() {
                    "for" => chain.push(value),
                    "proto" => element_proto = Some(value.eq_ignore_ascii_case("https")),
                    _ => {}
                }
            }
            proto = element_proto.or(proto);
        }
    }
    Ok((chain, proto))
}

/// A `for=` node: `192.0.2.1`, `192.0.2.1:80`, `[2001:db8::1]`, `[2001:db8::1]:80`.
fn parse_node(value: &str) -> Option<IpAddr> {
    if let Some(rest) = value.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    value
        .parse()
        .ok()
        .or_else(|| value.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// A comma-separated header's elements, over every line of it, in order.
fn list<'h>(headers: &'h HeaderMap, name: &str) -> Vec<&'h str> {
    headers
        .get_all(name)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("\u{0}").split(','))
        .map(str::trim)
        .collect()
}

/// The right-most `X-Forwarded-Proto` value: the one the proxy in front of us set.
fn x_forwarded_proto(headers: &HeaderMap) -> Option<bool> {
    let last = headers
        .get_all("x-forwarded-proto")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .next_back()?;
    Some(last.trim().eq_ignore_ascii_case("https"))
}

/// Inserts [`ClientInfo`] into every request. Needs the peer address: serve with
/// `into_make_service_with_connect_info::<SocketAddr>()`. Without it every request is
/// refused with a 500 naming the misconfiguration (failing open would make every client
/// one address to the rate limiters).
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ClientInfoLayer {
    proxies: TrustedProxies,
}

impl ClientInfoLayer {
    /// Believes forwarded headers only from `proxies`.
    pub fn new(proxies: TrustedProxies) -> Self {
        Self { proxies }
    }
}

impl<S> Layer<S> for ClientInfoLayer {
    type Service = ClientInfoService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Gated::new(self.proxies.clone(), inner)
    }
}

/// The service of [`ClientInfoLayer`].
pub type ClientInfoService<S> = Gated<TrustedProxies, S>;

impl super::gate::sealed::Sealed for TrustedProxies {}

impl RequestGate for TrustedProxies {
    fn check<B>(&self, req: &mut Request<B>) -> Option<Response> {
        let Some(peer) = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
        else {
            return Some(super::misconfigured(
                "no peer address: serve with into_make_service_with_connect_info::<SocketAddr>()",
            ));
        };
        let scheme = req
            .extensions()
            .get::<ConnectionScheme>()
            .copied()
            .unwrap_or(ConnectionScheme::Http);
        match self.resolve(peer, scheme, req.headers()) {
            Ok(info) => {
                req.extensions_mut().insert(info);
                None
            }
            Err(UnreadableClientAddress(why)) => Some(
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "unreadable-client-address",
                    "The proxy's description of the client cannot be read",
                )
                .with_detail(format!(
                    "{why} ({} is the header believed)",
                    self.header.name()
                ))
                .into_response(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    const ATTACKER: &str = "203.0.113.66";

    fn resolve(proxies: &TrustedProxies, peer: &str, h: &HeaderMap) -> ClientInfo {
        proxies
            .resolve(peer.parse().unwrap(), ConnectionScheme::Http, h)
            .unwrap()
    }

    #[test]
    fn untrusted_peer_cannot_spoof_scheme_or_address() {
        let spoof = headers(&[
            ("x-forwarded-proto", "https"),
            ("x-forwarded-for", "198.51.100.1"),
            ("forwarded", "for=198.51.100.2;proto=https"),
            ("x-real-ip", "198.51.100.3"),
        ]);
        for header in [
            ClientAddressHeader::XForwardedFor,
            ClientAddressHeader::Forwarded,
            ClientAddressHeader::XRealIp,
        ] {
            let proxies = TrustedProxies::parse(["10.0.0.0/8"])
                .unwrap()
                .believing(header);
            let info = resolve(&proxies, ATTACKER, &spoof);
            assert!(!info.https);
            assert_eq!(info.addr, ATTACKER.parse::<IpAddr>().unwrap());
        }
        // Default: nobody is trusted, not even loopback.
        let info = resolve(&TrustedProxies::none(), "127.0.0.1", &spoof);
        assert!(!info.https);
        assert_eq!(info.addr, "127.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn trusted_proxy_right_most_untrusted_address_wins() {
        let proxies = TrustedProxies::parse(["10.0.0.0/8", "192.168.1.1"]).unwrap();
        // The client prepended a fake address; the proxies appended the real ones.
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4, 198.51.100.7, 192.168.1.1"),
            ("x-forwarded-proto", "https"),
        ]);
        let info = resolve(&proxies, "10.1.2.3", &h);
        assert_eq!(info.addr, "198.51.100.7".parse::<IpAddr>().unwrap());
        assert!(info.https);
        assert_eq!(info.peer, "10.1.2.3".parse::<IpAddr>().unwrap());
    }

    /// The attack of a proxy that sets `X-Forwarded-For` and passes the client's own
    /// `Forwarded` and `X-Real-IP` through: neither is read, present or not.
    #[test]
    fn only_the_named_header_is_believed_never_another() {
        let proxies = TrustedProxies::parse(["10.0.0.0/8"]).unwrap();
        let client_wrote = headers(&[
            ("forwarded", "for=10.0.0.1;proto=https"),
            ("x-real-ip", "10.0.0.1"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        let info = resolve(&proxies, "10.0.0.2", &client_wrote);
        assert_eq!(info.addr, "198.51.100.7".parse::<IpAddr>().unwrap());
        assert!(!info.https);
        // The named header absent: the peer, not a fallback to another header.
        let only_others = headers(&[("forwarded", "for=192.0.2.9"), ("x-real-ip", "192.0.2.9")]);
        let info = resolve(&proxies, "10.0.0.2", &only_others);
        assert_eq!(info.addr, "10.0.0.2".parse::<IpAddr>().unwrap());
        // Named `forwarded`: it alone.
        let proxies = proxies.believing(ClientAddressHeader::Forwarded);
        let h = headers(&[
            (
                "forwarded",
                "for=\"[2001:db8::1]:4711\";proto=https, for=10.0.0.5",
            ),
            ("x-forwarded-for", "9.9.9.9"),
        ]);
        let info = resolve(&proxies, "10.0.0.1", &h);
        assert_eq!(info.addr, "2001:db8::1".parse::<IpAddr>().unwrap());
        assert!(info.https);
        let info = resolve(
            &proxies,
            "10.0.0.1",
            &headers(&[("x-forwarded-for", "9.9.9.9")]),
        );
        assert_eq!(info.addr, "10.0.0.1".parse::<IpAddr>().unwrap());
        // Named `x-real-ip`: one address.
        let proxies = proxies.believing(ClientAddressHeader::XRealIp);
        let info = resolve(
            &proxies,
            "10.0.0.1",
            &headers(&[("x-real-ip", "192.0.2.4")]),
        );
        assert_eq!(info.addr, "192.0.2.4".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn an_unreadable_address_from_a_trusted_proxy_is_refused_not_guessed() {
        let proxies = TrustedProxies::parse(["10.0.0.0/8"]).unwrap();
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        for h in [
            headers(&[("x-forwarded-for", "198.51.100.7, garbage")]),
            headers(&[("x-forwarded-for", "")]),
        ] {
            assert!(proxies.resolve(peer, ConnectionScheme::Http, &h).is_err());
        }
        // What lies left of the client (written by the client) is never read.
        let h = headers(&[("x-forwarded-for", "garbage, 198.51.100.7")]);
        assert!(proxies.resolve(peer, ConnectionScheme::Http, &h).is_ok());
        let twice = headers(&[("x-real-ip", "192.0.2.1"), ("x-real-ip", "192.0.2.2")]);
        let real_ip = proxies.clone().believing(ClientAddressHeader::XRealIp);
        assert!(
            real_ip
                .resolve(peer, ConnectionScheme::Http, &twice)
                .is_err()
        );
        let obfuscated = headers(&[("forwarded", "for=_hidden")]);
        let fwd = proxies.believing(ClientAddressHeader::Forwarded);
        assert!(
            fwd.resolve(peer, ConnectionScheme::Http, &obfuscated)
                .is_err()
        );
        assert!(ClientAddressHeader::parse("X-Forwarded-For").is_ok());
        assert!(ClientAddressHeader::parse("true-client-ip").is_err());
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_networks() {
        let proxies = TrustedProxies::parse(["10.0.0.0/8"]).unwrap();
        assert!(proxies.contains("::ffff:10.0.0.1".parse().unwrap()));
        assert!(TrustedProxies::parse(["not-an-ip"]).is_err());
    }
}
