//! Fixed-window counters keyed by a string (an IP, a username, a token),
//! shared by the login limits and the request limits.
//!
//! Promises: memory stays bounded whatever keys arrive. Expired windows
//! are swept when the map has grown (at most once a second, so a flood of
//! new keys does not rescan the map on every hit); past `capacity` live
//! keys, a key not seen before shares one overflow window with every other
//! newcomer, so a flood of fresh keys is limited together instead of
//! growing the map or resetting anyone's count. Client addresses are keyed
//! with [`ip_key`], so one IPv6 host cannot take a fresh key per address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// What is left of a key's window after a hit, for the `RateLimit-*`
/// headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window starts over.
    pub reset_secs: u64,
}

pub struct WindowLimiter {
    max: u32,
    window: Duration,
    capacity: usize,
    state: Mutex<State>,
}

struct State {
    windows: HashMap<String, Window>,
    /// Sweep expired windows once the map holds this many keys.
    sweep_at: usize,
    last_sweep: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy)]
struct Window {
    started: DateTime<Utc>,
    count: u32,
}

/// Keys kept before expired windows are first swept.
const SWEEP_AT: usize = 10_000;
/// Live keys kept at most (a few MB); newcomers past it share a window.
const CAPACITY: usize = 100_000;
/// The shortest time between two sweeps.
const SWEEP_EVERY: Duration = Duration::seconds(1);
/// The window every key not seen before shares while the map is full (a
/// NUL, which no address, username or token holds).
const OVERFLOW: &str = "\0overflow";

/// The rate-limit key of a client address: an IPv4 address as it is, an
/// IPv6 address by its /64 (one subscriber's network: a host picks any
/// address in it at will), an IPv4-mapped IPv6 address as its IPv4 one.
/// Anything else (no address) is kept as it is.
pub fn ip_key(ip: &str) -> String {
    match ip.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Err(_) => ip.to_string(),
    }
}

impl WindowLimiter {
    pub fn new(max: u32, window: Duration) -> Self {
        Self::with_capacity(max, window, CAPACITY)
    }

    /// A limiter that keeps at most `capacity` keys of their own.
    pub fn with_capacity(max: u32, window: Duration, capacity: usize) -> Self {
        Self {
            max,
            window,
            capacity: capacity.max(1),
            state: Mutex::new(State {
                windows: HashMap::new(),
                sweep_at: SWEEP_AT.min(capacity.max(1)),
                last_sweep: None,
            }),
        }
    }

    /// The key `key` is counted under: its own, or the shared overflow
    /// window when it is new and the map is full.
    fn slot<'a>(&self, state: &State, key: &'a str) -> &'a str {
        if state.windows.contains_key(key) || state.windows.len() < self.capacity {
            key
        } else {
            OVERFLOW
        }
    }

    fn sweep(&self, state: &mut State, now: DateTime<Utc>) {
        if state.windows.len() < state.sweep_at
            || state.last_sweep.is_some_and(|t| now - t < SWEEP_EVERY)
        {
            return;
        }
        let window = self.window;
        state.windows.retain(|_, w| now - w.started < window);
        state.last_sweep = Some(now);
        // Next time when the live keys have doubled: sweeping stays
        // proportional to the keys added since.
        state.sweep_at =
            (state.windows.len() * 2).clamp(SWEEP_AT.min(self.capacity), self.capacity);
    }

    /// Counts one hit for `key`; `Err(seconds)` when over the limit, with the
    /// seconds until the window ends.
    pub fn hit(&self, key: &str, now: DateTime<Utc>) -> Result<(), u64> {
        self.take(key, now).map(|_| ())
    }

    /// Counts one hit for `key` and says what is left of its window;
    /// `Err(seconds)` when over the limit, as `hit`.
    pub fn take(&self, key: &str, now: DateTime<Utc>) -> Result<Quota, u64> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.sweep(&mut state, now);
        let slot = self.slot(&state, key).to_string();
        let entry = state.windows.entry(slot).or_insert(Window {
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
        Ok(Quota {
            limit: self.max,
            remaining: self.max - entry.count,
            reset_secs: self.retry_after(entry, now),
        })
    }

    /// The most hits a key has in one window.
    pub fn limit(&self) -> u32 {
        self.max
    }

    /// Whether `key` is over its limit, without counting a hit.
    pub fn check(&self, key: &str, now: DateTime<Utc>) -> Result<(), u64> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match state.windows.get(self.slot(&state, key)) {
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
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let slot = self.slot(&state, key).to_string();
        if let Some(w) = state.windows.get_mut(&slot) {
            w.count = w.count.saturating_sub(1);
        }
    }

    /// Forgets `key`'s window (never the shared overflow window: one
    /// newcomer's success does not clear the others' count).
    pub fn reset(&self, key: &str) {
        if key == OVERFLOW {
            return;
        }
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .windows
            .remove(key);
    }

    fn retry_after(&self, w: &Window, now: DateTime<Utc>) -> u64 {
        ((w.started + self.window - now).num_milliseconds().max(0) as u64)
            .div_ceil(1000)
            .max(1)
    }

    /// Keys held now, for tests.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .windows
            .len()
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

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_prefix() {
        assert_eq!(
            ip_key("2001:db8:1:2:aaaa::1"),
            ip_key("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_eq!(ip_key("2001:db8:1:2::9"), "2001:db8:1:2::/64");
        assert_ne!(ip_key("2001:db8:1:2::1"), ip_key("2001:db8:1:3::1"));
        assert_eq!(ip_key("203.0.113.7"), "203.0.113.7");
        assert_eq!(ip_key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(ip_key(""), "");
    }

    #[test]
    fn past_its_capacity_newcomers_share_one_window_and_the_map_stops_growing() {
        let limiter = WindowLimiter::with_capacity(2, Duration::seconds(60), 100);
        let t0 = Utc::now();
        for i in 0..100 {
            limiter.hit(&format!("k{i}"), t0).unwrap();
        }
        assert!(limiter.hit("new1", t0).is_ok());
        assert!(limiter.hit("new2", t0).is_ok());
        assert!(
            limiter.hit("new3", t0).is_err(),
            "newcomers are limited together"
        );
        assert!(limiter.check("new4", t0).is_err());
        limiter.reset("new3");
        assert!(
            limiter.hit("new5", t0).is_err(),
            "a reset does not clear the shared window"
        );
        for i in 0..10_000 {
            let _ = limiter.hit(&format!("flood{i}"), t0);
        }
        assert_eq!(limiter.len(), 101);
        assert!(
            limiter.hit("k1", t0).is_ok(),
            "known keys keep their own window"
        );
    }

    #[test]
    fn expired_windows_make_room_for_new_keys() {
        let limiter = WindowLimiter::with_capacity(1, Duration::seconds(60), 100);
        let t0 = Utc::now();
        for i in 0..100 {
            limiter.hit(&format!("k{i}"), t0).unwrap();
        }
        let later = t0 + Duration::seconds(61);
        assert!(limiter.hit("a", later).is_ok());
        assert!(limiter.hit("b", later).is_ok(), "b has a window of its own");
        assert_eq!(limiter.len(), 2);
    }
}
