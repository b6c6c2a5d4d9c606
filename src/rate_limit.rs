//! Fixed-window counters keyed by a string (an IP, a username, a token),
//! shared by the login limits and the request limits.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

pub struct WindowLimiter {
    max: u32,
    window: Duration,
    windows: Mutex<HashMap<String, Window>>,
}

#[derive(Clone, Copy)]
struct Window {
    started: DateTime<Utc>,
    count: u32,
}

/// Keys kept before expired windows are swept, so memory stays bounded
/// under a flood of distinct keys.
const SWEEP_AT: usize = 10_000;

impl WindowLimiter {
    pub fn new(max: u32, window: Duration) -> Self {
        Self {
            max,
            window,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one hit for `key`; `Err(seconds)` when over the limit, with the
    /// seconds until the window ends.
    pub fn hit(&self, key: &str, now: DateTime<Utc>) -> Result<(), u64> {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= SWEEP_AT {
            let window = self.window;
            windows.retain(|_, w| now - w.started < window);
        }
        let entry = windows.entry(key.to_string()).or_insert(Window {
            started: now,
            count: 0,
        });
        if now - entry.started >= self.window {
            *entry = Window {
                started: now,
                count: 0,
            };
        }
        if entry.count >= self.max {
            return Err(self.retry_after(entry, now));
        }
        entry.count += 1;
        Ok(())
    }

    /// Whether `key` is over its limit, without counting a hit.
    pub fn check(&self, key: &str, now: DateTime<Utc>) -> Result<(), u64> {
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        match windows.get(key) {
            Some(w) if now - w.started < self.window && w.count >= self.max => {
                Err(self.retry_after(w, now))
            }
            _ => Ok(()),
        }
    }

    /// Takes back one hit of `key`: for a limit on failures, an attempt is
    /// counted when it starts (so a burst cannot slip past the check) and
    /// forgiven once it succeeds.
    pub fn forgive(&self, key: &str) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = windows.get_mut(key) {
            w.count = w.count.saturating_sub(1);
        }
    }

    pub fn reset(&self, key: &str) {
        self.windows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    fn retry_after(&self, w: &Window, now: DateTime<Utc>) -> u64 {
        ((w.started + self.window - now).num_milliseconds().max(0) as u64)
            .div_ceil(1000)
            .max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_refused_past_its_limit_until_the_window_ends() {
        let limiter = WindowLimiter::new(2, Duration::seconds(60));
        let t0 = Utc::now();
        assert!(limiter.hit("a", t0).is_ok());
        assert!(limiter.hit("a", t0).is_ok());
        assert_eq!(limiter.hit("a", t0 + Duration::seconds(20)), Err(40));
        assert!(limiter.hit("b", t0).is_ok(), "keys are independent");
        assert!(limiter.hit("a", t0 + Duration::seconds(61)).is_ok());
    }

    #[test]
    fn check_does_not_count_and_reset_clears() {
        let limiter = WindowLimiter::new(1, Duration::seconds(60));
        let t0 = Utc::now();
        assert!(limiter.check("a", t0).is_ok());
        limiter.hit("a", t0).unwrap();
        assert!(limiter.check("a", t0).is_err());
        limiter.reset("a");
        assert!(limiter.check("a", t0).is_ok());
    }

    #[test]
    fn a_forgiven_hit_no_longer_counts() {
        let limiter = WindowLimiter::new(1, Duration::seconds(60));
        let t0 = Utc::now();
        for _ in 0..3 {
            limiter.hit("a", t0).unwrap();
            limiter.forgive("a");
        }
        assert!(limiter.hit("a", t0).is_ok());
        assert!(limiter.hit("a", t0).is_err());
        limiter.forgive("unknown");
    }
}
