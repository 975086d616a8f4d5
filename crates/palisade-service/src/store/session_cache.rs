//! A short memory of sessions (and users' groups) read by this instance, so that a busy
//! client's requests do not each cost a database round trip.
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

use super::{GrantRow, SessionRow, UserRow};

/// How long a read is trusted: the window in which another instance's revocation may not
/// yet be seen here.
pub(crate) const FRESH_FOR: Duration = Duration::from_millis(500);

/// At most this many sessions (and as many users' groups) are remembered; past it, new
/// reads are not kept (they are still answered) until stale entries are swept.
const CAPACITY: usize = 50_000;

/// A session and its user, shared between the memory and the requests it serves.
pub(crate) type SessionAndUser = (Arc<SessionRow>, Arc<UserRow>);

/// An app's grant found alive, and its user (for UserInfo).
pub(crate) type GrantAndUser = (Arc<GrantRow>, Arc<UserRow>);

/// A user's groups, sorted (for the access rules that name groups).
pub(crate) type Groups = Arc<[String]>;

/// The generation a read started under; only [`SessionCache::generation`] makes one.
#[derive(Clone, Copy)]
pub(crate) struct Generation(u64);

/// Shows only how many sessions it holds.
impl std::fmt::Debug for SessionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.sessions.entries.read().map_or(0, |e| e.len());
        f.debug_struct("SessionCache").field("held", &held).finish()
    }
}

/// Sessions by token hash, and users' groups by user id, under one generation: a write
/// that may end a session or change a user forgets both.
#[derive(Default)]
pub(crate) struct SessionCache {
    generation: AtomicU64,
    sessions: Remembered<String, SessionAndUser>,
    groups: Remembered<i64, Groups>,
    grants: Remembered<String, GrantAndUser>,
}

impl SessionCache {
    /// Taken before a database read whose result will be put.
    pub(crate) fn generation(&self) -> Generation {
        Generation(self.generation.load(Ordering::SeqCst))
    }

    /// A fresh entry read under the current generation.
    pub(crate) fn get(&self, token_hash: &str) -> Option<SessionAndUser> {
        self.sessions.get(token_hash, self.generation())
    }

    pub(crate) fn put(&self, token_hash: &str, found: &SessionAndUser, read: Generation) {
        self.sessions.put(
            token_hash.to_owned(),
            found.clone(),
            read,
            self.generation(),
        );
    }

    /// A user's groups, when freshly read under the current generation.
    pub(crate) fn groups(&self, user_id: i64) -> Option<Groups> {
        self.groups.get(&user_id, self.generation())
    }

    pub(crate) fn put_groups(&self, user_id: i64, groups: &Groups, read: Generation) {
        self.groups
            .put(user_id, groups.clone(), read, self.generation());
    }

    /// An app's grant, when freshly found alive under the current generation.
    pub(crate) fn grant(&self, id: &str) -> Option<GrantAndUser> {
        self.grants.get(id, self.generation())
    }

    pub(crate) fn put_grant(&self, id: &str, found: &GrantAndUser, read: Generation) {
        self.grants
            .put(id.to_owned(), found.clone(), read, self.generation());
    }

    /// Forgets one token (its session's `last seen` moved).
    pub(crate) fn forget(&self, token_hash: &str) {
        self.sessions.forget(token_hash);
    }

    /// After a committed write that may end a session or change a user: nothing read
    /// before it is served again.
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.sessions.clear();
        self.groups.clear();
        self.grants.clear();
    }
}

/// One kind of remembered read: served only under the generation it was read in and for
/// [`FRESH_FOR`] after.
struct Remembered<K, V> {
    entries: RwLock<HashMap<K, Entry<V>>>,
}

struct Entry<V> {
    value: V,
    generation: u64,
    read_at: Instant,
}

impl<K, V> Default for Remembered<K, V> {
    fn default() -> Self {
        Self {
            entries: RwLock::default(),
        }
    }
}

impl<K: std::hash::Hash + Eq, V: Clone> Remembered<K, V> {
    fn get<Q>(&self, key: &Q, current: Generation) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(key)?;
        (entry.generation == current.0 && entry.read_at.elapsed() < FRESH_FOR)
            .then(|| entry.value.clone())
    }

    fn put(&self, key: K, value: V, read: Generation, current: Generation) {
        let read_at = Instant::now();
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CAPACITY && !entries.contains_key(&key) {
            entries.retain(|_, e| e.generation == current.0 && e.read_at.elapsed() < FRESH_FOR);
            if entries.len() >= CAPACITY {
                return;
            }
        }
        entries.insert(
            key,
            Entry {
                value,
                generation: read.0,
                read_at,
            },
        );
    }

    fn forget<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    fn clear(&self) {
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
            second_factor: 0,
        };
        let user = UserRow {
            id: 1,
            username: "alice".into(),
            email: "alice@example.com".into(),
            display_name: None,
            disabled: 0,
            created_at: 0,
            email_verified_at: None,
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
    fn groups_are_forgotten_with_sessions_and_never_served_from_before_a_revocation() {
        let cache = SessionCache::default();
        let groups: Groups = Arc::from(vec!["staff".to_owned()]);
        let before = cache.generation();
        cache.invalidate();
        cache.put_groups(1, &groups, before);
        assert!(cache.groups(1).is_none(), "read before the revocation");
        cache.put_groups(1, &groups, cache.generation());
        assert_eq!(cache.groups(1).as_deref(), Some(&["staff".to_owned()][..]));
        assert!(cache.groups(2).is_none());
        cache.invalidate();
        assert!(cache.groups(1).is_none());
        cache.put_groups(1, &groups, cache.generation());
        std::thread::sleep(FRESH_FOR);
        assert!(cache.groups(1).is_none(), "stale after FRESH_FOR");
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
