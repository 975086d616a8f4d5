//! A short memory of sessions read by this instance, so that a busy client's requests do
//! not each cost a database round trip.
//!
//! Why it cannot serve a revoked session:
//! - On this instance, every store write that ends a session or changes a user bumps the
//!   generation after it commits, and an entry read under an older generation is never
//!   served: the very next request reads the database. A reader takes the generation
//!   *before* its read, so a read that raced a revocation is stored already stale.
//! - Other instances and the admin CLI change the same database without telling this one:
//!   an entry is served for at most [`FRESH_FOR`] after its read, so their revocations
//!   reach every instance within that (plus one read).
//!
//! It holds no secret: the key is the token's SHA-256 (what the database stores), and the
//! user has no password hash.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::{SessionRow, UserRow};

/// How long a read is trusted: the window in which another instance's revocation may not
/// yet be seen here.
pub(crate) const FRESH_FOR: Duration = Duration::from_millis(500);

/// At most this many sessions are remembered; past it, new reads are not kept (they are
/// still answered) until stale entries are swept.
const CAPACITY: usize = 50_000;

/// A session and its user, shared between the memory and the requests it serves.
pub(crate) type SessionAndUser = (Arc<SessionRow>, Arc<UserRow>);

struct Entry {
    session: Arc<SessionRow>,
    user: Arc<UserRow>,
    generation: u64,
    read_at: Instant,
}

/// The generation a read started under; only [`SessionCache::generation`] makes one.
#[derive(Clone, Copy)]
pub(crate) struct Generation(u64);

/// Shows only how many sessions it holds.
impl std::fmt::Debug for SessionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.entries.read().map_or(0, |e| e.len());
        f.debug_struct("SessionCache").field("held", &held).finish()
    }
}

#[derive(Default)]
pub(crate) struct SessionCache {
    generation: AtomicU64,
    entries: RwLock<HashMap<String, Entry>>,
}

impl SessionCache {
    /// Taken before a database read whose result will be [`put`](Self::put).
    pub(crate) fn generation(&self) -> Generation {
        Generation(self.generation.load(Ordering::SeqCst))
    }

    /// A fresh entry read under the current generation.
    pub(crate) fn get(&self, token_hash: &str) -> Option<SessionAndUser> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(token_hash)?;
        let current = self.generation.load(Ordering::SeqCst);
        (entry.generation == current && entry.read_at.elapsed() < FRESH_FOR)
            .then(|| (entry.session.clone(), entry.user.clone()))
    }

    pub(crate) fn put(&self, token_hash: &str, (session, user): &SessionAndUser, read: Generation) {
        let read_at = Instant::now();
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CAPACITY && !entries.contains_key(token_hash) {
            let current = self.generation.load(Ordering::SeqCst);
            entries.retain(|_, e| e.generation == current && e.read_at.elapsed() < FRESH_FOR);
            if entries.len() >= CAPACITY {
                return;
            }
        }
        entries.insert(
            token_hash.to_owned(),
            Entry {
                session: session.clone(),
                user: user.clone(),
                generation: read.0,
                read_at,
            },
        );
    }

    /// Forgets one token (its session's `last seen` moved).
    pub(crate) fn forget(&self, token_hash: &str) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(token_hash);
    }

    /// After a committed write that may end a session or change a user: nothing read
    /// before it is served again.
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> SessionAndUser {
        let session = SessionRow {
            id: "s".into(),
            user_id: 1,
            created_at: 0,
            last_seen_at: 0,
            last_auth_at: 0,
            expires_at: 10,
            client_addr: "127.0.0.1".into(),
            user_agent: String::new(),
        };
        let user = UserRow {
            id: 1,
            username: "alice".into(),
            email: "alice@example.com".into(),
            display_name: None,
            disabled: 0,
            created_at: 0,
        };
        (Arc::new(session), Arc::new(user))
    }

    #[test]
    fn a_read_that_raced_a_revocation_is_never_served() {
        let cache = SessionCache::default();
        let r = row();
        let before = cache.generation();
        // The revocation commits while the read is in flight...
        cache.invalidate();
        // ...and the read's (old) result arrives afterwards.
        cache.put("t", &r, before);
        assert!(cache.get("t").is_none());
        cache.put("t", &r, cache.generation());
        assert!(cache.get("t").is_some());
        cache.invalidate();
        assert!(cache.get("t").is_none(), "a revocation forgets every entry");
    }

    #[test]
    fn an_entry_is_served_only_while_fresh() {
        let cache = SessionCache::default();
        let r = row();
        cache.put("t", &r, cache.generation());
        assert!(cache.get("t").is_some());
        std::thread::sleep(FRESH_FOR);
        assert!(cache.get("t").is_none());
    }
}
