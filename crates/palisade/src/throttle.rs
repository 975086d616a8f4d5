//! Login throttling that an attacker cannot turn against the account's owner.
//!
//! Stops: online password guessing (growing delays per account and client, a rate per
//! client address) without the denial of service of a lockout counter: delays are capped
//! and never become a permanent lock, the owner's own address has its own counter, and the
//! account-wide delay only starts after far more failures than one address may make.
//!
//! Pure decisions over counters the caller stores (a database, so every instance agrees);
//! the time is passed in.
//!
//! # Concurrency
//! A store must count an attempt *before* its password is hashed, by one atomic statement
//! that increments only while [`ThrottlePolicy::check_delay`] allows it (see
//! [`DelaySchedule`], which gives the numbers that statement needs). Reading a counter,
//! deciding, and writing back a value computed from the read loses updates when requests
//! run at once: an attacker with 64 requests in flight then gets every guess hashed.
//!
//! # Example
//! ```
//! use palisade::throttle::{Counter, Decision, ThrottlePolicy};
//! let policy = ThrottlePolicy::default();
//! let mut pair = Counter::default();
//! for _ in 0..4 { pair = policy.record_failure(pair, 1_000); }
//! assert_eq!(policy.check_delay(pair, 1_000, false), Decision::Allowed);
//! pair = policy.record_failure(pair, 1_000); // the fifth failure: 1 s, then doubling
//! assert_eq!(policy.check_delay(pair, 1_000, false), Decision::Throttled { retry_after: 1 });
//! pair = policy.record_failure(pair, 1_001);
//! assert_eq!(policy.check_delay(pair, 1_001, false), Decision::Throttled { retry_after: 2 });
//! ```
//!
//! # Deployment caveat
//! The client address must be the real one (see [`crate::http::ClientInfo`]); behind an
//! untrusted proxy every client shares one address and one rate.

use std::net::{IpAddr, Ipv6Addr};

/// A stored counter: failures (or attempts, for the client rate) and the time of the last
/// one (or the window start), in seconds since the epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counter {
    /// Failures counted.
    pub failures: u32,
    /// Seconds since the epoch of the last failure (delay counters) or of the window start
    /// (rate counters).
    pub at: i64,
}

/// Whether an attempt may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead (and hash).
    Allowed,
    /// Refuse before hashing; the client may retry after this many seconds.
    Throttled {
        /// Seconds to wait.
        retry_after: u64,
    },
}

/// The limits. All times in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures per (account, client) that cost no delay; the next attempt after them
    /// waits 1 s, then 2, 4, … (doubling with each failure).
    pub pair_free_failures: u32,
    /// Longest delay per (account, client).
    pub pair_max_delay: u64,
    /// Failures per account, from all clients, before account-wide delays start.
    pub account_free_failures: u32,
    /// Longest account-wide delay: short, so a distributed attacker only slows the owner.
    pub account_max_delay: u64,
    /// Login attempts per client address (IPv6 grouped by /64) per window.
    pub client_attempts: u32,
    /// The client window.
    pub client_window: u64,
    /// Failures older than this are forgotten.
    pub forget_after: u64,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            pair_free_failures: 5,
            pair_max_delay: 15 * 60,
            account_free_failures: 100,
            account_max_delay: 60,
            client_attempts: 50,
            client_window: 5 * 60,
            forget_after: 24 * 60 * 60,
        }
    }
}

/// The delays of one counter kind, in the shape an atomic database statement needs: after
/// `failures` failures the next attempt waits 0 s while `failures < free_failures`, else
/// `min(max_delay, 2^(failures - free_failures))` s, which is `max_delay` once
/// `failures - free_failures >= doublings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DelaySchedule {
    /// Failures that cost no delay.
    pub free_failures: u32,
    /// The longest delay, seconds.
    pub max_delay: u64,
    /// Doublings from 1 s until the delay reaches `max_delay` (at most 63).
    pub doublings: u32,
    /// Failures older than this many seconds are forgotten (the counter starts over).
    pub forget_after: u64,
}

impl DelaySchedule {
    /// Seconds owed after `failures` failures.
    pub fn delay(&self, failures: u32) -> u64 {
        match failures.checked_sub(self.free_failures) {
            None => 0,
            Some(over) if over >= self.doublings => self.max_delay,
            Some(over) => (1u64 << over).min(self.max_delay),
        }
    }
}

impl ThrottlePolicy {
    /// The delays of the per-(account, client) counter (`account_wide = false`) or of the
    /// account-wide one.
    pub fn schedule(&self, account_wide: bool) -> DelaySchedule {
        let (free_failures, max_delay) = if account_wide {
            (self.account_free_failures, self.account_max_delay)
        } else {
            (self.pair_free_failures, self.pair_max_delay)
        };
        // The smallest d with 2^d >= max_delay.
        let doublings = (0..63).find(|d| (1u64 << d) >= max_delay).unwrap_or(63);
        DelaySchedule {
            free_failures,
            max_delay,
            doublings,
            forget_after: self.forget_after,
        }
    }

    /// Checks a delay counter (`account_wide` picks which limits apply).
    pub fn check_delay(&self, counter: Counter, now: i64, account_wide: bool) -> Decision {
        if now - counter.at >= self.forget_after as i64 {
            return Decision::Allowed;
        }
        let delay = self.schedule(account_wide).delay(counter.failures);
        let ready_at = counter.at.saturating_add(delay as i64);
        if delay == 0 || now >= ready_at {
            Decision::Allowed
        } else {
            Decision::Throttled {
                retry_after: (ready_at - now) as u64,
            }
        }
    }

    /// The counter after one more failure at `now`.
    pub fn record_failure(&self, counter: Counter, now: i64) -> Counter {
        let failures = if now - counter.at >= self.forget_after as i64 {
            1
        } else {
            counter.failures.saturating_add(1)
        };
        Counter { failures, at: now }
    }

    /// Checks a client-rate counter *after* this attempt was counted into it.
    pub fn check_rate(&self, counter: Counter, now: i64) -> Decision {
        if counter.failures <= self.client_attempts {
            return Decision::Allowed;
        }
        let window_end = counter.at.saturating_add(self.client_window as i64);
        Decision::Throttled {
            retry_after: (window_end - now).max(1) as u64,
        }
    }
}

/// The key a client address is counted under: IPv4 addresses alone, IPv6 addresses by
/// their /64 (one subscriber's whole network), IPv4-mapped IPv6 as IPv4.
pub fn client_key(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{}/64", Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_are_capped() {
        let p = ThrottlePolicy::default();
        let mut c = Counter::default();
        for _ in 0..4 {
            c = p.record_failure(c, 100);
            assert_eq!(p.check_delay(c, 100, false), Decision::Allowed);
        }
        let mut last = 0;
        for _ in 0..31 {
            c = p.record_failure(c, 100);
            let Decision::Throttled { retry_after } = p.check_delay(c, 100, false) else {
                panic!()
            };
            assert!(retry_after >= last && retry_after <= 15 * 60);
            last = retry_after;
        }
        assert_eq!(last, 15 * 60, "capped, never a permanent lock");
        assert_eq!(p.check_delay(c, 100 + 15 * 60, false), Decision::Allowed);
        // Forgotten after a day.
        assert_eq!(p.record_failure(c, 100 + 86_400).failures, 1);
    }

    #[test]
    fn account_wide_delay_starts_late_and_stays_short() {
        let p = ThrottlePolicy::default();
        let c = Counter {
            failures: 99,
            at: 0,
        };
        assert_eq!(p.check_delay(c, 0, true), Decision::Allowed);
        let c = Counter {
            failures: 1_000_000,
            at: 0,
        };
        assert_eq!(
            p.check_delay(c, 0, true),
            Decision::Throttled { retry_after: 60 }
        );
    }

    #[test]
    fn the_schedule_matches_the_doubling_rule() {
        let p = ThrottlePolicy::default();
        let pair = p.schedule(false);
        let delays: Vec<u64> = (0..17).map(|f| pair.delay(f)).collect();
        assert_eq!(
            delays,
            [
                0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900
            ]
        );
        let account = p.schedule(true);
        assert_eq!(account.delay(99), 0);
        assert_eq!(account.delay(100), 1);
        assert_eq!(account.delay(105), 32);
        assert_eq!(account.delay(106), 60);
        assert_eq!(account.delay(u32::MAX), 60);
        // Every count agrees with the plain rule min(max, 2^(f - free)).
        for schedule in [pair, account] {
            for f in 0..200u32 {
                let expected = match f.checked_sub(schedule.free_failures) {
                    None => 0,
                    Some(over) => 2f64.powi(over as i32).min(schedule.max_delay as f64) as u64,
                };
                assert_eq!(schedule.delay(f), expected, "{f} failures");
            }
        }
    }

    #[test]
    fn client_rate() {
        let p = ThrottlePolicy::default();
        assert_eq!(
            p.check_rate(
                Counter {
                    failures: 50,
                    at: 0
                },
                10
            ),
            Decision::Allowed
        );
        assert_eq!(
            p.check_rate(
                Counter {
                    failures: 51,
                    at: 0
                },
                10
            ),
            Decision::Throttled { retry_after: 290 }
        );
    }

    #[test]
    fn ipv6_grouped_by_64() {
        let a = client_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = client_key("2001:db8:1:2:bbbb::2".parse().unwrap());
        let c = client_key("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(client_key("::ffff:192.0.2.1".parse().unwrap()), "192.0.2.1");
    }
}
