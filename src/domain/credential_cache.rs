//! Credentials resolved recently, so a client that makes many requests
//! (a panel, an integration posting messages) costs the session, user and
//! role lookups once every few seconds rather than on every request.
//!
//! What a hit promises: this instance forgets everything it holds whenever
//! it changes anything a credential depends on (a logout, a password, a
//! user, a role, a key), so on one instance a revocation takes effect at
//! once. Another instance sharing the database learns of it when its entry
//! ages out (`AUTH_CACHE_MS`, two seconds by default; 0 turns the cache
//! off); open WebSockets re-check far less often (`WS_AUTH_RECHECK_MS`).
//! A hit never outlives the credential's expiry, idle timeout or the next
//! write of its last use, by the service's clock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::actor::{Actor, Channel};

/// Entries kept at most; past this the stale ones go, then all.
const MAX_ENTRIES: usize = 10_000;

/// A credential as it was resolved, and until when that holds.
#[derive(Clone)]
pub(crate) struct Resolved {
    pub actor: Actor,
    /// The session's CSRF token (sessions only).
    pub csrf_token: Option<String>,
    /// A session whose role requires a second factor it has not passed:
    /// it may only set one up.
    pub setup_pending: bool,
    /// From then on (by the service's clock) the credential must be looked
    /// up again: it expires, goes idle, or is due to have its last use
    /// written down.
    pub look_up_again_at: Option<DateTime<Utc>>,
}

impl Resolved {
    fn still_valid(&self, now: DateTime<Utc>) -> bool {
        self.look_up_again_at.is_none_or(|at| now < at)
    }
}

struct Entry {
    resolved: Resolved,
    at: Instant,
}

#[derive(Default)]
struct State {
    /// Bumped by every `forget_all`, so a lookup that raced a revocation
    /// does not store what it read before it.
    generation: u64,
    /// By channel, then by the token's hash (so a lookup allocates nothing).
    entries: HashMap<Channel, HashMap<String, Entry>>,
    /// Entries over every channel.
    len: usize,
}

pub struct CredentialCache {
    ttl: Duration,
    state: Mutex<State>,
}

/// Where a lookup started, to store its outcome only if nothing was
/// revoked meanwhile.
#[derive(Clone, Copy)]
pub(crate) struct Generation(u64);

impl CredentialCache {
    pub fn new(ttl: Duration) -> Self {
        CredentialCache {
            ttl,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The credential stored under `hash` (a token's hash) for `channel`,
    /// if it was resolved within the TTL and is still within its limits.
    pub(crate) fn get(
        &self,
        hash: &str,
        channel: Channel,
        now: DateTime<Utc>,
    ) -> Result<Resolved, Generation> {
        let state = self.lock();
        match state
            .entries
            .get(&channel)
            .and_then(|by_hash| by_hash.get(hash))
        {
            Some(entry) if entry.at.elapsed() < self.ttl && entry.resolved.still_valid(now) => {
                Ok(entry.resolved.clone())
            }
            _ => Err(Generation(state.generation)),
        }
    }

    /// Remembers what a lookup that started at `generation` resolved.
    pub(crate) fn put(
        &self,
        hash: &str,
        channel: Channel,
        generation: Generation,
        resolved: Resolved,
    ) {
        if self.ttl.is_zero() {
            return;
        }
        let mut state = self.lock();
        if state.generation != generation.0 {
            return;
        }
        if state.len >= MAX_ENTRIES {
            let ttl = self.ttl;
            for by_hash in state.entries.values_mut() {
                by_hash.retain(|_, e| e.at.elapsed() < ttl);
            }
            state.len = state.entries.values().map(HashMap::len).sum();
            if state.len >= MAX_ENTRIES {
                state.entries.clear();
                state.len = 0;
            }
        }
        let entry = Entry {
            resolved,
            at: Instant::now(),
        };
        if state
            .entries
            .entry(channel)
            .or_default()
            .insert(hash.to_string(), entry)
            .is_none()
        {
            state.len += 1;
        }
    }

    /// Forgets every credential: called after any change to sessions,
    /// keys, users or roles.
    pub fn forget_all(&self) {
        let mut state = self.lock();
        state.generation += 1;
        state.entries.clear();
        state.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(look_up_again_at: Option<DateTime<Utc>>) -> Resolved {
        Resolved {
            actor: Actor::system(),
            csrf_token: None,
            setup_pending: false,
            look_up_again_at,
        }
    }

    #[test]
    fn a_stored_credential_is_found_until_it_must_be_looked_up_again() {
        let cache = CredentialCache::new(Duration::from_secs(60));
        let now = Utc::now();
        let generation = cache.get("h", Channel::Api, now).err().unwrap();
        cache.put(
            "h",
            Channel::Api,
            generation,
            resolved(Some(now + chrono::Duration::seconds(5))),
        );
        assert!(cache.get("h", Channel::Api, now).is_ok());
        assert!(cache.get("h", Channel::Web, now).is_err(), "per channel");
        assert!(cache
            .get("h", Channel::Api, now + chrono::Duration::seconds(5))
            .is_err());
    }

    #[test]
    fn a_lookup_that_raced_a_revocation_is_not_stored() {
        let cache = CredentialCache::new(Duration::from_secs(60));
        let now = Utc::now();
        let generation = cache.get("h", Channel::Api, now).err().unwrap();
        cache.forget_all();
        cache.put("h", Channel::Api, generation, resolved(None));
        assert!(cache.get("h", Channel::Api, now).is_err());
    }

    #[test]
    fn forgetting_drops_what_was_stored_and_a_zero_ttl_stores_nothing() {
        let cache = CredentialCache::new(Duration::from_secs(60));
        let now = Utc::now();
        let generation = cache.get("h", Channel::Api, now).err().unwrap();
        cache.put("h", Channel::Api, generation, resolved(None));
        cache.forget_all();
        assert!(cache.get("h", Channel::Api, now).is_err());
        let off = CredentialCache::new(Duration::ZERO);
        let generation = off.get("h", Channel::Api, now).err().unwrap();
        off.put("h", Channel::Api, generation, resolved(None));
        assert!(off.get("h", Channel::Api, now).is_err());
    }
}
