//! The memberships this instance has seen, so the check every send, read
//! and subscribe makes costs no query once a member has been seen in a
//! room.
//!
//! Only "is a member" is remembered, never "is not": someone added on
//! another instance is found by the next check. A membership ends only
//! through `rooms::remove_member`, which calls `forget_all` here, and every
//! other instance does the same when its live query on `room_member` sees
//! the row go (`realtime::live::listen_memberships`). A deactivated user
//! keeps their rows and loses their sessions.

use std::collections::HashSet;
use std::sync::Mutex;

/// Pairs kept at most; past this the set starts again empty.
const MAX_PAIRS: usize = 200_000;

#[derive(Default)]
pub struct KnownMembers {
    pairs: Mutex<HashSet<String>>,
}

fn pair(room: &str, user: &str) -> String {
    format!("{room}\n{user}")
}

impl KnownMembers {
    pub fn contains(&self, room: &str, user: &str) -> bool {
        self.lock().contains(&pair(room, user))
    }

    pub fn remember(&self, room: &str, user: &str) {
        let mut pairs = self.lock();
        if pairs.len() >= MAX_PAIRS {
            pairs.clear();
        }
        pairs.insert(pair(room, user));
    }

    pub fn forget_all(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.pairs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_membership_is_known_for_its_room_and_user_only() {
        let known = KnownMembers::default();
        known.remember("r1", "u1");
        assert!(known.contains("r1", "u1"));
        assert!(!known.contains("r1", "u2"));
        assert!(!known.contains("r2", "u1"));
        // The separator keeps "r1"+"\nu1" apart from other splits.
        assert!(!known.contains("r1\nu1", ""));
        known.forget_all();
        assert!(!known.contains("r1", "u1"));
    }
}
