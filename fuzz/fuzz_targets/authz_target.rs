//! forward-auth's reading of the original request's path (`authz/target.rs`): never panics;
//! what it accepts is normalized for good — normalizing it again gives the same path and
//! query —, starts with `/`, holds no empty, `.` or `..` segment, no `;` when parameters
//! are refused or stripped, and only upper-case escapes of what an app would decode
//! differently.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_service::fuzzing::normalize_resource;

fuzz_target!(|data: &[u8]| {
    let Some((&options, rest)) = data.split_first() else {
        return;
    };
    let Ok(uri) = std::str::from_utf8(rest) else {
        return;
    };
    let (parameters, strip) = (options % 3, options & 0x80 != 0);
    let Ok((path, query)) = normalize_resource(uri, parameters, strip) else {
        return;
    };
    assert!(path.starts_with('/'), "{uri:?} → {path:?}");
    let again = match &query {
        Some(query) => format!("{path}?{query}"),
        None => path.clone(),
    };
    assert_eq!(
        normalize_resource(&again, parameters, strip),
        Ok((path.clone(), query.clone())),
        "{uri:?} normalizes to {again:?}, which normalizes to something else"
    );
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        assert!(
            !matches!(*segment, "." | "..") && (last || !segment.is_empty()),
            "{uri:?} → {path:?}: a dot or empty segment survived"
        );
    }
    if parameters != 2 {
        assert!(!path.contains(';'), "{uri:?} → {path:?}: a ';' survived");
    }
    let bytes = path.as_bytes();
    for (i, _) in bytes.iter().enumerate().filter(|(_, b)| **b == b'%') {
        let escape = &path[i + 1..i + 3];
        assert!(
            escape.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)),
            "{uri:?} → {path:?}: escape {escape:?} not normalized"
        );
        let byte = u8::from_str_radix(escape, 16).unwrap();
        assert!(
            !(byte.is_ascii_alphanumeric() || b"-._~/\\".contains(&byte)),
            "{uri:?} → {path:?}: %{escape} should have been decoded or refused"
        );
    }
});
