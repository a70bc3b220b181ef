//! A small in-memory limiter for failed logins, per client address and per
//! email: enough for one node; with several nodes each limits on its own.

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
}
