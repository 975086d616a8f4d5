//! `Forwarded` / `X-Forwarded-For` / `X-Forwarded-Proto` from a trusted proxy: never
//! panics, and an untrusted peer's headers are never believed.
#![no_main]

use std::net::IpAddr;

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use palisade::http::{ConnectionScheme, TrustedProxies};

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    for (i, part) in data.split(|b| *b == b'\n').take(6).enumerate() {
        let Ok(value) = HeaderValue::from_bytes(part) else {
            return;
        };
        let name = ["forwarded", "x-forwarded-for", "x-forwarded-proto"][i % 3];
        headers.append(name, value);
    }
    let proxy: IpAddr = "10.0.0.2".parse().unwrap();
    let trusted = TrustedProxies::parse(["10.0.0.0/8"]).unwrap();
    let info = trusted.resolve(proxy, ConnectionScheme::Http, &headers);
    assert_eq!(info.peer, proxy);
    let stranger: IpAddr = "203.0.113.9".parse().unwrap();
    let info = trusted.resolve(stranger, ConnectionScheme::Http, &headers);
    assert_eq!(
        info.addr, stranger,
        "headers from an untrusted peer were believed"
    );
    assert!(!info.https);
});
