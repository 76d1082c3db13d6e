//! Registry time: the wall clock, or a virtual clock that only an operator call moves
//! (tests advance it for the 20-minute propagation and the idle timeout; they never
//! sleep). May depend on std, and on jiff for showing a time in the local time zone.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::Millis;

/// A registry time for people: the local date and time with the zone
/// (`2026-11-30 04:12:05 CET`), the way a person reads a clock, not milliseconds since
/// the epoch. Falls back to UTC when the local zone cannot be read.
pub(crate) fn local_time(ms: Millis) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t
            .to_zoned_datetime(jiff::tz::TimeZone::system())
            .strftime("%Y-%m-%d %H:%M:%S %Z")
            .to_string(),
        Err(_) => format!("{ms} ms after the epoch"),
    }
}

/// Where the registry reads the time.
pub(crate) trait Clock: Send + Sync + fmt::Debug {
    /// Milliseconds since the Unix epoch.
    fn now(&self) -> Millis;

    /// Moves the clock forward; a wall clock ignores it.
    fn advance(&self, by_ms: u64);
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }

    fn advance(&self, _by_ms: u64) {}
}

/// A clock that stands still until advanced.
#[derive(Debug)]
pub struct VirtualClock {
    now: AtomicI64,
}

impl VirtualClock {
    /// Where every virtual clock starts: 2026-01-05T08:00:00Z, a Monday morning, so
    /// that runs are reproducible.
    pub const EPOCH_MS: Millis = 1_767_600_000_000;

    /// A virtual clock at [`VirtualClock::EPOCH_MS`].
    pub fn new() -> Self {
        VirtualClock {
            now: AtomicI64::new(Self::EPOCH_MS),
        }
    }
}

impl Default for VirtualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> Millis {
        self.now.load(Ordering::SeqCst)
    }

    fn advance(&self, by_ms: u64) {
        let by = i64::try_from(by_ms).unwrap_or(i64::MAX);
        self.now.fetch_add(by, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clock_moves_only_when_advanced() {
        let c = VirtualClock::new();
        assert_eq!(c.now(), VirtualClock::EPOCH_MS);
        c.advance(20 * 60 * 1000);
        assert_eq!(c.now(), VirtualClock::EPOCH_MS + 1_200_000);
        assert!(SystemClock.now() > 1_700_000_000_000);
    }
}
