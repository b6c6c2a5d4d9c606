//! Whether each bot is connected and what went wrong last, for admins.
//!
//! Kept in memory per instance: it describes this process's connection to
//! a platform, which another instance cannot know.

use std::collections::BTreeMap;
use std::sync::RwLock;

use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BotStatus {
    pub platform: String,
    /// The bot's own username on the platform, once known.
    pub username: Option<String>,
    pub connected: bool,
    pub last_ok_at: Option<DateTime<Utc>>,
    /// A short description of the last failure; never a token.
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
}

#[derive(Default)]
pub struct StatusBoard {
    bots: RwLock<BTreeMap<String, BotStatus>>,
}

impl StatusBoard {
    /// Every configured bot, by platform name.
    pub fn all(&self) -> Vec<BotStatus> {
        self.bots
            .read()
            .map(|b| b.values().cloned().collect())
            .unwrap_or_default()
    }

    fn update(&self, platform: &str, change: impl FnOnce(&mut BotStatus)) {
        if let Ok(mut bots) = self.bots.write() {
            let entry = bots
                .entry(platform.to_string())
                .or_insert_with(|| BotStatus {
                    platform: platform.to_string(),
                    username: None,
                    connected: false,
                    last_ok_at: None,
                    last_error: None,
                    last_error_at: None,
                });
            change(entry);
        }
    }

    /// A configured bot that has not connected yet.
    pub fn register(&self, platform: &str) {
        self.update(platform, |_| {});
    }

    pub fn connected(&self, platform: &str, username: Option<&str>, at: DateTime<Utc>) {
        self.update(platform, |s| {
            s.connected = true;
            s.last_ok_at = Some(at);
            if let Some(name) = username {
                s.username = Some(name.to_string());
            }
        });
    }

    pub fn failed(&self, platform: &str, error: &str, at: DateTime<Utc>) {
        self.update(platform, |s| {
            s.connected = false;
            s.last_error = Some(error.chars().take(300).collect());
            s.last_error_at = Some(at);
        });
    }
}
