//! `Forwarded` / `X-Forwarded-For` / `X-Real-IP` / `X-Forwarded-Proto` from a trusted
//! proxy, whichever one header is believed: never panics, an untrusted peer's headers are
//! never believed, and a header not named never changes the answer.
#![no_main]

use std::net::IpAddr;

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use palisade::http::{ClientAddressHeader, ConnectionScheme, TrustedProxies};

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    const NAMES: [&str; 4] = ["forwarded", "x-forwarded-for", "x-real-ip", "x-forwarded-proto"];
    for (i, part) in data.split(|b| *b == b'\n').take(8).enumerate() {
        let Ok(value) = HeaderValue::from_bytes(part) else {
            return;
        };
        headers.append(NAMES[i % 4], value);
    }
    let proxy: IpAddr = "10.0.0.2".parse().unwrap();
    for (believed, name) in [
        (ClientAddressHeader::XForwardedFor, "x-forwarded-for"),
        (ClientAddressHeader::Forwarded, "forwarded"),
        (ClientAddressHeader::XRealIp, "x-real-ip"),
    ] {
        let trusted = TrustedProxies::parse(["10.0.0.0/8"])
            .unwrap()
            .believing(believed);
        let answer = trusted.resolve(proxy, ConnectionScheme::Http, &headers);
        if let Ok(info) = &answer {
            assert_eq!(info.peer, proxy);
        }
        // Without the other address headers, the same answer: they are never read.
        let mut only = headers.clone();
        for other in ["forwarded", "x-forwarded-for", "x-real-ip"] {
            if other != name {
                only.remove(other);
            }
        }
        let alone = trusted.resolve(proxy, ConnectionScheme::Http, &only);
        assert_eq!(answer, alone, "a header not named ({name} is) changed the answer");
    }
    let trusted = TrustedProxies::parse(["10.0.0.0/8"]).unwrap();
    let stranger: IpAddr = "203.0.113.9".parse().unwrap();
    let info = trusted
        .resolve(stranger, ConnectionScheme::Http, &headers)
        .expect("an untrusted peer's headers are not read, so cannot be unreadable");
    assert_eq!(
        info.addr, stranger,
        "headers from an untrusted peer were believed"
    );
    assert!(!info.https);
});
