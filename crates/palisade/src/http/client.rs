//! The request's real scheme and client address, believing forwarded headers only from
//! trusted proxies.

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

/// Proxy networks whose forwarded headers are believed. Empty (the default) trusts nobody.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Arc<[IpNet]>,
}

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
        Ok(Self { nets: nets.into() })
    }

    /// Whether `addr` is a trusted proxy.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        self.nets.iter().any(|n| n.contains(&addr))
    }

    /// Works out the client info for a request from `peer` over `scheme` with `headers`.
    pub fn resolve(
        &self,
        peer: IpAddr,
        scheme: ConnectionScheme,
        headers: &HeaderMap,
    ) -> ClientInfo {
        let peer = canonical(peer);
        let mut info = ClientInfo {
            https: scheme == ConnectionScheme::Https,
            addr: peer,
            peer,
        };
        if !self.contains(peer) {
            return info;
        }
        let (forwarded_for, proto) = match forwarded(headers) {
            Some(found) => found,
            None => (x_forwarded_for(headers), x_forwarded_proto(headers)),
        };
        // Right to left: each trusted hop vouches for the one before it; the first
        // untrusted address is the client.
        let mut client = peer;
        for addr in forwarded_for.iter().rev() {
            client = canonical(*addr);
            if !self.contains(client) {
                break;
            }
        }
        info.addr = client;
        if let Some(https) = proto {
            info.https = https;
        }
        info
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) count as the IPv4 address.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(addr),
        v4 => v4,
    }
}

/// `Forwarded` (RFC 7239): the `for=` chain and the last hop's `proto=`. `None` when the
/// header is absent, so `X-Forwarded-*` is consulted instead.
fn forwarded(headers: &HeaderMap) -> Option<(Vec<IpAddr>, Option<bool>)> {
    let values: Vec<&str> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if values.is_empty() {
        return None;
    }
    let mut chain = Vec::new();
    let mut proto = None;
    for element in values.iter().flat_map(|v| v.split(',')) {
        let mut element_proto = None;
        for pair in element.split(';') {
            let Some((name, value)) = pair.trim().split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"');
            match name.trim().to_ascii_lowercase().as_str() {
                "for" => {
                    if let Some(addr) = parse_node(value) {
                        chain.push(addr);
                    }
                }
                "proto" => element_proto = Some(value.eq_ignore_ascii_case("https")),
                _ => {}
            }
        }
        proto = element_proto.or(proto);
    }
    Some((chain, proto))
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

fn x_forwarded_for(headers: &HeaderMap) -> Vec<IpAddr> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| parse_node(a.trim()))
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
        let info = self.resolve(peer, scheme, req.headers());
        req.extensions_mut().insert(info);
        None
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

    #[test]
    fn untrusted_peer_cannot_spoof_scheme_or_address() {
        let proxies = TrustedProxies::parse(["10.0.0.0/8"]).unwrap();
        let spoof = headers(&[
            ("x-forwarded-proto", "https"),
            ("x-forwarded-for", "198.51.100.1"),
            ("forwarded", "for=198.51.100.2;proto=https"),
        ]);
        let info = proxies.resolve(ATTACKER.parse().unwrap(), ConnectionScheme::Http, &spoof);
        assert!(!info.https);
        assert_eq!(info.addr, ATTACKER.parse::<IpAddr>().unwrap());
        // Default: nobody is trusted, not even loopback.
        let info = TrustedProxies::none().resolve(
            "127.0.0.1".parse().unwrap(),
            ConnectionScheme::Http,
            &spoof,
        );
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
        let info = proxies.resolve("10.1.2.3".parse().unwrap(), ConnectionScheme::Http, &h);
        assert_eq!(info.addr, "198.51.100.7".parse::<IpAddr>().unwrap());
        assert!(info.https);
        assert_eq!(info.peer, "10.1.2.3".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn forwarded_header_is_preferred_and_parsed() {
        let proxies = TrustedProxies::parse(["10.0.0.0/8"]).unwrap();
        let h = headers(&[
            (
                "forwarded",
                "for=\"[2001:db8::1]:4711\";proto=https, for=10.0.0.5",
            ),
            ("x-forwarded-for", "9.9.9.9"),
        ]);
        let info = proxies.resolve("10.0.0.1".parse().unwrap(), ConnectionScheme::Http, &h);
        assert_eq!(info.addr, "2001:db8::1".parse::<IpAddr>().unwrap());
        assert!(info.https);
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_networks() {
        let proxies = TrustedProxies::parse(["10.0.0.0/8"]).unwrap();
        assert!(proxies.contains("::ffff:10.0.0.1".parse().unwrap()));
        assert!(TrustedProxies::parse(["not-an-ip"]).is_err());
    }
}
