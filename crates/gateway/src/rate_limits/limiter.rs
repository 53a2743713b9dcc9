//! One keyed GCRA limiter, and the clock it runs on.

use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use backbone_core::SharedClock;
use chrono::{DateTime, Utc};
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

use super::{Rate, Refused};

/// The time the limiters see: monotonic in production, the application's injected clock in
/// tests (so a test moves time instead of sleeping). An `Instant` is the time since the clock
/// was made, which governor's GCRA accepts as its reference.
#[derive(Debug, Clone)]
pub enum LimiterClock {
    Monotonic(std::time::Instant),
    Injected {
        clock: SharedClock,
        start: DateTime<Utc>,
    },
}

impl LimiterClock {
    pub fn monotonic() -> Self {
        Self::Monotonic(std::time::Instant::now())
    }

    pub fn injected(clock: SharedClock) -> Self {
        let start = clock.now();
        Self::Injected { clock, start }
    }
}

impl governor::clock::Clock for LimiterClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        match self {
            Self::Monotonic(start) => start.elapsed(),
            // A clock set back reads as no time passed, never as a negative time.
            Self::Injected { clock, start } => (clock.now() - *start).to_std().unwrap_or_default(),
        }
    }
}

type KeyedLimiter<K> =
    RateLimiter<K, DashMapStateStore<K>, LimiterClock, governor::middleware::NoOpMiddleware<Duration>>;

pub struct Limiter<K: Hash + Eq + Clone> {
    name: &'static str,
    inner: Arc<KeyedLimiter<K>>,
    clock: LimiterClock,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    /// Expects a validated rate (both figures at least 1).
    pub fn new(name: &'static str, rate: Rate, clock: LimiterClock) -> Self {
        let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
        let per_minute = u64::from(rate.per_minute.max(1));
        // One request every 60/per_minute seconds, in nanoseconds so that any rate is exact enough.
        let period = Duration::from_nanos(60_000_000_000 / per_minute);
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        Self {
            name,
            inner: Arc::new(RateLimiter::new(
                quota,
                DashMapStateStore::default(),
                clock.clone(),
            )),
            clock,
        }
    }

    pub fn check(&self, key: &K) -> Result<(), Refused> {
        use governor::clock::Clock;
        self.inner.check_key(key).map_err(|not_until| Refused {
            limit: self.name,
            retry_after: not_until.wait_time_from(self.clock.now()),
        })
    }

    pub fn forget_idle_keys(&self) {
        self.inner.retain_recent();
        self.inner.shrink_to_fit();
    }
}

#[cfg(test)]
impl<K: Hash + Eq + Clone> Limiter<K> {
    pub fn len(&self) -> usize {
        self.inner.len()
    }
}
