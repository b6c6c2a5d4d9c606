//! Presence: who is online, away or offline, and when they were last seen.
//! Kept in memory per instance from the connections it holds; a user with
//! several tabs is online while any of them is open.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::error::{DomainError, DomainResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Online,
    Away,
    Offline,
}

impl Status {
    /// What a client may set; offline follows from closing the last
    /// connection.
    pub fn parse_settable(raw: &str) -> DomainResult<Status> {
        match raw {
            "online" => Ok(Status::Online),
            "away" => Ok(Status::Away),
            _ => Err(DomainError::invalid("status", "must be online or away")),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Presence {
    pub user: String,
    pub status: Status,
    pub last_seen: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct Entry {
    connections: usize,
    away: bool,
    last_seen: Option<DateTime<Utc>>,
}

/// Connections per user and what each user said about themselves.
#[derive(Debug, Default)]
pub struct PresenceTracker {
    users: HashMap<String, Entry>,
}

impl PresenceTracker {
    /// A connection opened; returns the new presence when it changed.
    pub fn connected(&mut self, user: &str, now: DateTime<Utc>) -> Option<Presence> {
        let entry = self.users.entry(user.to_string()).or_default();
        entry.connections += 1;
        entry.last_seen = Some(now);
        if entry.connections != 1 {
            return None;
        }
        entry.away = false;
        self.presence(user)
    }

    /// A connection closed; returns the new presence when it changed.
    pub fn disconnected(&mut self, user: &str, now: DateTime<Utc>) -> Option<Presence> {
        let entry = self.users.get_mut(user)?;
        entry.connections = entry.connections.saturating_sub(1);
        entry.last_seen = Some(now);
        if entry.connections != 0 {
            return None;
        }
        self.presence(user)
    }

    /// The user set online or away; returns the presence when it changed.
    pub fn set(&mut self, user: &str, status: Status, now: DateTime<Utc>) -> Option<Presence> {
        let entry = self.users.get_mut(user)?;
        entry.last_seen = Some(now);
        let away = status == Status::Away;
        if entry.away == away {
            return None;
        }
        entry.away = away;
        self.presence(user)
    }

    pub fn presence(&self, user: &str) -> Option<Presence> {
        let entry = self.users.get(user)?;
        let status = match (entry.connections, entry.away) {
            (0, _) => Status::Offline,
            (_, true) => Status::Away,
            _ => Status::Online,
        };
        Some(Presence {
            user: user.to_string(),
            status,
            last_seen: entry.last_seen?,
        })
    }

    /// Everyone this instance has seen since it started.
    pub fn all(&self) -> Vec<Presence> {
        let mut all: Vec<Presence> = self.users.keys().filter_map(|u| self.presence(u)).collect();
        all.sort_by(|a, b| a.user.cmp(&b.user));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_stays_online_until_their_last_connection_closes() {
        let mut p = PresenceTracker::default();
        let now = Utc::now();
        assert_eq!(p.connected("u", now).unwrap().status, Status::Online);
        assert!(
            p.connected("u", now).is_none(),
            "second tab changes nothing"
        );
        assert!(p.disconnected("u", now).is_none());
        assert_eq!(p.disconnected("u", now).unwrap().status, Status::Offline);
    }

    #[test]
    fn away_is_reported_once_and_cleared_by_a_fresh_start() {
        let mut p = PresenceTracker::default();
        let now = Utc::now();
        p.connected("u", now);
        assert_eq!(p.set("u", Status::Away, now).unwrap().status, Status::Away);
        assert!(p.set("u", Status::Away, now).is_none());
        p.disconnected("u", now);
        assert_eq!(p.connected("u", now).unwrap().status, Status::Online);
    }
}
