//! In-memory limiters: [`Limiter`] counts failures (logins, per address and
//! per email); [`Throttle`] paces requests (the API, per key and per address).
//! Both hold their counts in this node's memory: with several nodes each
//! limits on its own, and [`Throttle`] keeps its state behind [`RateStore`] so
//! that a store shared by the nodes can replace it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Limiter {
    max: u32,
    window: Duration,
    hits: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Limiter {
    pub fn new(max: u32, window_secs: u64) -> Self {
        Limiter {
            max,
            window: Duration::from_secs(window_secs),
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `key` is still allowed to try.
    pub fn allowed(&self, key: &str) -> bool {
        let map = self.hits.lock().unwrap();
        match map.get(key) {
            Some((start, n)) if start.elapsed() < self.window => *n < self.max,
            _ => true,
        }
    }

    /// Records a failure for `key`.
    pub fn fail(&self, key: &str) {
        let mut map = self.hits.lock().unwrap();
        if map.len() > 100_000 {
            let window = self.window;
            map.retain(|_, (start, _)| start.elapsed() < window);
        }
        let e = map.entry(key.to_string()).or_insert((Instant::now(), 0));
        if e.0.elapsed() >= self.window {
            *e = (Instant::now(), 0);
        }
        e.1 += 1;
    }

    pub fn clear(&self, key: &str) {
        self.hits.lock().unwrap().remove(key);
    }
}

/// Where a [`Throttle`] keeps each caller's state: the generic cell rate
/// algorithm's "theoretical arrival time", in milliseconds on the store's clock.
pub trait RateStore: Send + Sync {
    /// Atomically: reads `key`'s arrival time (or `now` when unknown), lets
    /// `decide` compute the new one, writes it when `decide` returns `Ok`.
    fn update(&self, key: &str, now: u64, decide: &mut dyn FnMut(u64) -> Result<u64, u64>) -> Result<(), u64>;
}

/// The default store: this node's memory.
#[derive(Default)]
pub struct MemoryStore {
    cells: Mutex<HashMap<String, u64>>,
}

impl RateStore for MemoryStore {
    fn update(&self, key: &str, now: u64, decide: &mut dyn FnMut(u64) -> Result<u64, u64>) -> Result<(), u64> {
        let mut cells = self.cells.lock().unwrap();
        if cells.len() > 100_000 {
            // Forget callers that are back to a full allowance.
            cells.retain(|_, tat| *tat > now);
        }
        let tat = cells.get(key).copied().unwrap_or(now).max(now);
        let next = decide(tat)?;
        cells.insert(key.to_string(), next);
        Ok(())
    }
}

/// A pace: `per_minute` requests a minute on average, and up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub per_minute: u32,
    pub burst: u32,
}

impl Quota {
    /// `n` a minute, all of them allowed at once.
    pub const fn per_minute(n: u32) -> Quota {
        Quota { per_minute: n, burst: n }
    }
}

/// Paces requests per key with the generic cell rate algorithm: each request
/// moves the key's theoretical arrival time one interval (a minute / the rate)
/// on; a request that would move it further than the burst allows is refused
/// with the time to wait.
pub struct Throttle {
    store: Box<dyn RateStore>,
    started: Instant,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::new(Box::new(MemoryStore::default()))
    }
}

impl Throttle {
    pub fn new(store: Box<dyn RateStore>) -> Self {
        Throttle {
            store,
            started: Instant::now(),
        }
    }

    /// Takes one request of `key`'s allowance; `Err` holds how long to wait.
    pub fn take(&self, key: &str, quota: Quota) -> Result<(), Duration> {
        let now = self.started.elapsed().as_millis() as u64;
        Self::take_at(&*self.store, key, quota, now).map_err(Duration::from_millis)
    }

    fn take_at(store: &dyn RateStore, key: &str, quota: Quota, now: u64) -> Result<(), u64> {
        if quota.per_minute == 0 {
            return Ok(());
        }
        let interval = (60_000 / u64::from(quota.per_minute)).max(1);
        let tolerance = interval * u64::from(quota.burst.max(1) - 1);
        store.update(key, now, &mut |tat| {
            if tat - now > tolerance {
                Err(tat - now - tolerance)
            } else {
                Ok(tat + interval)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn blocks_after_max() {
        let l = super::Limiter::new(3, 60);
        for _ in 0..3 {
            assert!(l.allowed("a"));
            l.fail("a");
        }
        assert!(!l.allowed("a"));
        assert!(l.allowed("b"));
        l.clear("a");
        assert!(l.allowed("a"));
    }

    #[test]
    fn throttle_allows_the_burst_then_the_pace() {
        use super::{MemoryStore, Quota, Throttle};
        let store = MemoryStore::default();
        let q = Quota { per_minute: 60, burst: 3 };
        for _ in 0..3 {
            assert_eq!(Throttle::take_at(&store, "k", q, 0), Ok(()));
        }
        // The fourth waits one interval (a second at 60 a minute).
        assert_eq!(Throttle::take_at(&store, "k", q, 0), Err(1000));
        assert_eq!(Throttle::take_at(&store, "other", q, 0), Ok(()));
        assert_eq!(Throttle::take_at(&store, "k", q, 999), Err(1));
        assert_eq!(Throttle::take_at(&store, "k", q, 1000), Ok(()));
        // After a quiet spell the whole burst is back, no more.
        for _ in 0..3 {
            assert_eq!(Throttle::take_at(&store, "k", q, 60_000), Ok(()));
        }
        assert!(Throttle::take_at(&store, "k", q, 60_000).is_err());
        // Zero a minute means no limit.
        let off = Quota { per_minute: 0, burst: 0 };
        for _ in 0..1000 {
            assert_eq!(Throttle::take_at(&store, "k", off, 60_000), Ok(()));
        }
    }

    proptest::proptest! {
        /// Whatever the arrival times: in any span of `w` ms no more than
        /// burst + w / interval requests pass, and requests spaced at least one
        /// interval apart always pass.
        #[test]
        fn throttle_never_lets_more_than_the_quota_through(
            per_minute in 1u32..600,
            burst in 1u32..20,
            gaps in proptest::collection::vec(0u64..3000, 1..200),
        ) {
            use super::{MemoryStore, Quota, Throttle};
            let store = MemoryStore::default();
            let q = Quota { per_minute, burst };
            let interval = (60_000 / u64::from(per_minute)).max(1);
            let mut now = 0;
            let mut passed = Vec::new();
            for g in &gaps {
                now += g;
                if Throttle::take_at(&store, "k", q, now).is_ok() {
                    passed.push(now);
                }
            }
            for (i, start) in passed.iter().enumerate() {
                for w in [0, interval, 10 * interval] {
                    let n = passed[i..].iter().take_while(|t| **t <= start + w).count() as u64;
                    proptest::prop_assert!(n <= u64::from(burst) + w / interval, "{n} in {w} ms");
                }
            }
            let spaced = MemoryStore::default();
            for i in 0..gaps.len() as u64 {
                proptest::prop_assert!(Throttle::take_at(&spaced, "k", q, i * interval).is_ok());
            }
        }
    }
}
