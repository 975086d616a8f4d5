//! The service's clock: seconds since the Unix epoch, from the system, or set by a test.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Where the service reads the time. Every time-dependent rule (session expiry, throttle
/// delays, re-authentication windows) reads this one, so a test can move it.
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock that stands still at `start` until [`ManualClock::advance`] moves it.
    pub fn manual(start: i64) -> (Self, ManualClock) {
        let time = Arc::new(AtomicI64::new(start));
        (Self(Some(time.clone())), ManualClock(time))
    }

    /// Seconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        match &self.0 {
            Some(time) => time.load(Ordering::SeqCst),
            None => system_now(),
        }
    }
}

/// The handle that moves a manual clock.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// Moves the clock forward by `secs`.
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }

    /// Where the clock stands.
    pub fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The system time, for tools that run once and have no service state.
pub(crate) fn system_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let (clock, hand) = Clock::manual(1_000);
        assert_eq!(clock.now(), 1_000);
        hand.advance(61);
        assert_eq!(clock.clone().now(), 1_061);
        assert!(Clock::system().now() > 1_700_000_000);
    }
}
