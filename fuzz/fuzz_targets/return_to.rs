//! The way back after login (`authz/return_to.rs`'s `rd`): never panics; what it accepts is
//! a URL that parses again to itself, on `public_origin`'s host or under `cookie_domain`,
//! over https (http is allowed only on a loopback host, which these are not), with no user
//! information.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_service::fuzzing::return_to;

const ORIGIN: &str = "https://accounts.example.com";
const COOKIE_DOMAIN: &str = "example.com";

fuzz_target!(|data: &[u8]| {
    let Ok(rd) = std::str::from_utf8(data) else {
        return;
    };
    for cookie_domain in [None, Some(COOKIE_DOMAIN)] {
        let Some(url) = return_to(ORIGIN, cookie_domain, rd) else {
            continue;
        };
        assert_eq!(
            return_to(ORIGIN, cookie_domain, &url).as_deref(),
            Some(url.as_str()),
            "{rd:?} → {url:?} does not re-parse to itself"
        );
        let parsed = url::Url::parse(&url).expect("an accepted rd parses");
        let host = parsed.host_str().expect("an accepted rd has a host");
        let ours = host == "accounts.example.com"
            || cookie_domain.is_some_and(|d| host == d || host.ends_with(".example.com"));
        assert!(ours, "{rd:?} → {url:?}: host {host:?} is not ours");
        // Our hosts are not loopback: https only.
        assert_eq!(parsed.scheme(), "https", "{rd:?} → {url:?}");
        assert!(parsed.username().is_empty() && parsed.password().is_none());
    }
});
