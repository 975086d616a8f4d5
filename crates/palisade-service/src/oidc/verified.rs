//! Access tokens this instance verified lately, by the SHA-256 of their text: a busy
//! resource server's UserInfo calls do not each cost a signature check. An entry is served
//! until the token expires, and for at most `TRUST_FOR` after its check — the key set's own
//! reload period, so a key withdrawn at once (`keys rotate-signing --now`) stops vouching
//! for its tokens here as soon as this instance stops publishing it. Whether the grant is
//! still alive is asked separately, every time.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

const TRUST_FOR: Duration = Duration::from_secs(10);
const CAPACITY: usize = 50_000;

struct Entry {
    claims: Arc<Value>,
    expires_at: i64,
    checked_at: Instant,
}

#[derive(Default)]
pub(crate) struct VerifiedTokens {
    entries: RwLock<HashMap<[u8; 32], Entry>>,
}

pub(crate) fn key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl VerifiedTokens {
    pub(crate) fn get(&self, key: &[u8; 32], now: i64) -> Option<Arc<Value>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(key)?;
        (entry.expires_at > now && entry.checked_at.elapsed() < TRUST_FOR)
            .then(|| entry.claims.clone())
    }

    pub(crate) fn put(&self, key: [u8; 32], claims: Arc<Value>, expires_at: i64, now: i64) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CAPACITY {
            entries.retain(|_, e| e.expires_at > now && e.checked_at.elapsed() < TRUST_FOR);
            if entries.len() >= CAPACITY {
                return;
            }
        }
        entries.insert(
            key,
            Entry {
                claims,
                expires_at,
                checked_at: Instant::now(),
            },
        );
    }
}

#[cfg(test)]
#[test]
fn an_entry_is_served_until_the_token_expires_and_no_longer() {
    let cache = VerifiedTokens::default();
    let claims = Arc::new(serde_json::json!({"sub": "x"}));
    cache.put(key("t"), claims.clone(), 100, 50);
    assert_eq!(cache.get(&key("t"), 99).as_deref(), Some(&*claims));
    assert!(cache.get(&key("t"), 100).is_none(), "expired");
    assert!(cache.get(&key("u"), 50).is_none(), "another token");
}
