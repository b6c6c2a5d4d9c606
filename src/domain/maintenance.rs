//! Maintenance mode: an admin closes the service to everyone but admins,
//! with a message and perhaps an end time.
//!
//! The switch is stored (the `setting:maintenance` row), so it holds on
//! every instance sharing the database and across restarts. Each instance
//! keeps the last state it read in a watch channel, re-read every
//! `POLL_EVERY` (by `domain::follow_switches`, with the feature switches)
//! and at once after its own changes: a request costs no
//! query, and open sockets learn of a change from the channel.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::watch;

use super::actor::Actor;
use super::audit;
use super::clock::db_time;
use super::crm::settings;
use super::error::{DomainError, DomainResult};
use super::roles::ADMIN_ROLE;
use super::Ctx;
use crate::store::Transaction;

/// The setting's key.
const KEY: &str = "maintenance";
/// How often an instance re-reads the switch: how late another instance's
/// change reaches it at most.
pub const POLL_EVERY: Duration = Duration::from_secs(1);
/// `Retry-After` when no end time was given.
const DEFAULT_RETRY_SECS: u64 = 300;
const MAX_MESSAGE_CHARS: usize = 500;

/// The switch as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Maintenance {
    pub enabled: bool,
    /// What people are told.
    #[serde(default)]
    pub message: String,
    /// When it ends by itself, if it does.
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
    /// When it was turned on.
    #[serde(default)]
    pub since: Option<DateTime<Utc>>,
}

impl Maintenance {
    /// On at `now`: enabled, and its end time (if any) not yet reached.
    pub fn active_at(&self, now: DateTime<Utc>) -> bool {
        self.enabled && self.until.is_none_or(|until| now < until)
    }

    /// The refusal non-admins get while it is on.
    pub fn refusal(&self, now: DateTime<Utc>) -> DomainError {
        let retry_after_secs = self
            .until
            // Rounded up: told to come back before the end, a client
            // would only be turned away again.
            .map(|until| ((until - now).num_milliseconds().max(1) as u64).div_ceil(1000))
            .unwrap_or(DEFAULT_RETRY_SECS);
        let mut message = String::from("EA CRM is down for maintenance");
        if !self.message.is_empty() {
            message.push_str(": ");
            message.push_str(&self.message);
        }
        if let Some(until) = self.until {
            message.push_str(&format!(
                " (back at {} UTC)",
                until.format("%Y-%m-%d %H:%M")
            ));
        }
        DomainError::Maintenance {
            message,
            retry_after_secs,
        }
    }
}

/// What an admin asks for.
#[derive(Debug, Clone, Default)]
pub struct MaintenanceInput {
    pub enabled: bool,
    pub message: Option<String>,
    pub until: Option<DateTime<Utc>>,
}

/// This instance's view of the switch.
#[derive(Clone)]
pub struct MaintenanceSwitch {
    current: Arc<watch::Sender<Maintenance>>,
}

impl Default for MaintenanceSwitch {
    fn default() -> Self {
        MaintenanceSwitch {
            current: Arc::new(watch::Sender::new(Maintenance::default())),
        }
    }
}

impl MaintenanceSwitch {
    pub fn current(&self) -> Maintenance {
        self.current.borrow().clone()
    }

    /// Follows changes (for open sockets).
    pub fn subscribe(&self) -> watch::Receiver<Maintenance> {
        self.current.subscribe()
    }

    fn set(&self, state: Maintenance) {
        self.current.send_if_modified(|current| {
            let changed = *current != state;
            *current = state;
            changed
        });
    }
}

/// Whether the service is closed for maintenance now (background jobs
/// that write skip their turn while it is).
pub fn is_on(ctx: &Ctx) -> bool {
    ctx.maintenance.current().active_at(ctx.now())
}

/// Lets `actor` in, or refuses with the maintenance message; admins always
/// get in (they are the ones doing the maintenance).
pub fn admit(ctx: &Ctx, actor: &Actor) -> DomainResult<()> {
    admit_role(ctx, &actor.role)
}

/// As `admit`, for someone known only by role (a sign-in).
pub fn admit_role(ctx: &Ctx, role: &str) -> DomainResult<()> {
    let state = ctx.maintenance.current();
    let now = ctx.now();
    if role != ADMIN_ROLE && state.active_at(now) {
        return Err(state.refusal(now));
    }
    Ok(())
}

/// Re-reads the stored switch into this instance's view.
pub async fn refresh(ctx: &Ctx) -> DomainResult<Maintenance> {
    let state: Maintenance = settings::read(ctx, KEY).await?;
    ctx.maintenance.set(state.clone());
    Ok(state)
}

/// The switch as stored (any signed-in user may read it).
pub async fn get(ctx: &Ctx) -> DomainResult<Maintenance> {
    refresh(ctx).await
}

/// Turns maintenance on or off. Admins only: everyone else is shut out
/// while it is on.
pub async fn set(ctx: &Ctx, actor: &Actor, input: MaintenanceInput) -> DomainResult<Maintenance> {
    if actor.role != ADMIN_ROLE {
        return Err(DomainError::Forbidden(
            "admin (only admins switch maintenance mode)".into(),
        ));
    }
    let now = ctx.now();
    let message = input.message.unwrap_or_default().trim().to_string();
    if message.chars().count() > MAX_MESSAGE_CHARS {
        return Err(DomainError::invalid(
            "message",
            format!("at most {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    if input.until.is_some_and(|until| until <= now) {
        return Err(DomainError::invalid("until", "is not in the future"));
    }
    let before: Maintenance = settings::read(ctx, KEY).await?;
    let after = if input.enabled {
        Maintenance {
            enabled: true,
            message,
            until: input.until,
            since: if before.active_at(now) {
                before.since.or(Some(now))
            } else {
                Some(now)
            },
        }
    } else {
        Maintenance::default()
    };
    let text = serde_json::to_string(&after).map_err(|e| DomainError::Internal(e.to_string()))?;
    let mut tx = Transaction::new();
    tx.bind("key", KEY)
        .bind("value", &text)
        .bind("now", db_time(now));
    tx.push("UPSERT type::record('setting', $key) SET data = $value, updated_at = <datetime>$now");
    let changes = audit::diff(
        &json!({"enabled": before.active_at(now), "message": before.message, "until": before.until}),
        &json!({"enabled": after.enabled, "message": after.message, "until": after.until}),
        &[],
    );
    audit::record(&mut tx, actor, "setting", KEY, "update", &changes, now);
    tx.commit(&ctx.store).await?;
    ctx.maintenance.set(after.clone());
    Ok(after)
}

/// An end time as an operator types it: RFC 3339, or a span from `now`
/// in minutes, hours or days (`30m`, `2h`, `1d`).
pub fn parse_until(raw: &str, now: DateTime<Utc>) -> DomainResult<DateTime<Utc>> {
    let raw = raw.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        return Ok(at.with_timezone(&Utc));
    }
    let split = raw.len().saturating_sub(1);
    let (number, unit) = raw.split_at(split);
    let minutes = match (number.parse::<i64>(), unit) {
        (Ok(n), "m") => Some(n),
        (Ok(n), "h") => n.checked_mul(60),
        (Ok(n), "d") => n.checked_mul(24 * 60),
        _ => None,
    };
    minutes
        .filter(|m| (1..=60 * 24 * 30).contains(m))
        .map(|m| now + chrono::Duration::minutes(m))
        .ok_or_else(|| {
            DomainError::invalid(
                "until",
                format!("`{raw}` is neither an RFC 3339 time nor a span like 30m, 2h or 1d (at most 30 days)"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, h, 0, 0).unwrap()
    }

    #[test]
    fn it_is_on_until_its_end_time_and_says_when_to_come_back() {
        let state = Maintenance {
            enabled: true,
            message: "upgrading the database".into(),
            until: Some(at(12)),
            since: Some(at(10)),
        };
        assert!(state.active_at(at(11)));
        assert!(!state.active_at(at(12)));
        let DomainError::Maintenance {
            message,
            retry_after_secs,
        } = state.refusal(at(11))
        else {
            panic!("not a maintenance refusal");
        };
        assert_eq!(retry_after_secs, 3600);
        assert_eq!(
            message,
            "EA CRM is down for maintenance: upgrading the database (back at 2026-11-30 12:00 UTC)"
        );
    }

    #[test]
    fn end_times_are_read_as_times_or_spans_from_now() {
        assert_eq!(
            parse_until("30m", at(10)).unwrap(),
            at(10) + chrono::Duration::minutes(30)
        );
        assert_eq!(parse_until("2h", at(10)).unwrap(), at(12));
        assert_eq!(
            parse_until("1d", at(10)).unwrap(),
            at(10) + chrono::Duration::days(1)
        );
        assert_eq!(parse_until("2026-11-30T12:00:00Z", at(10)).unwrap(), at(12));
        for bad in ["", "soon", "0m", "-5m", "31d", "h", "12:00"] {
            assert!(parse_until(bad, at(10)).is_err(), "{bad}");
        }
    }

    #[test]
    fn without_an_end_time_clients_are_told_to_retry_in_five_minutes() {
        let state = Maintenance {
            enabled: true,
            ..Default::default()
        };
        assert!(state.active_at(at(11)));
        let DomainError::Maintenance {
            message,
            retry_after_secs,
        } = state.refusal(at(11))
        else {
            panic!("not a maintenance refusal");
        };
        assert_eq!(retry_after_secs, DEFAULT_RETRY_SECS);
        assert_eq!(message, "EA CRM is down for maintenance");
        assert!(!Maintenance::default().active_at(at(11)));
    }
}
