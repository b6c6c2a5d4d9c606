//! Feature switches: every optional part of the service can be switched
//! off by an admin, and a switched-off part refuses with
//! `DomainError::FeatureDisabled` at its entry points and pauses its
//! background work.
//!
//! The switches are stored (`feature_switch`, one row per feature that was
//! ever switched; no row means on), so they hold on every instance sharing
//! the database and across restarts. As with maintenance mode, each
//! instance keeps the last state it read in a watch channel, re-read every
//! `maintenance::POLL_EVERY` by `domain::follow_switches` and at once after
//! its own changes: the chat socket and message sends check a switch
//! without a query.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::watch;

use super::actor::Actor;
use super::audit::{self, FieldChange};
use super::clock::db_time;
use super::error::{DomainError, DomainResult};
use super::permissions::Permission;
use super::Ctx;
use crate::store::{Store, Transaction};

/// Every optional part of the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// The chat hub: rooms, messages, the socket, the web chat's bot.
    Chat,
    /// The Telegram bot: commands, direct messages, bridges to Telegram.
    Telegram,
    /// The Discord bot: commands, direct messages, bridges to Discord.
    Discord,
    /// Outbound webhooks: endpoint management and delivery.
    Webhooks,
    LeadScoring,
    Intent,
    Dedup,
    Drafting,
    RelationshipMap,
    Patterns,
    /// Lead import from CSV and XLSX.
    Import,
}

impl Feature {
    /// In the order the panel lists them.
    pub const ALL: [Feature; 11] = [
        Feature::Chat,
        Feature::Telegram,
        Feature::Discord,
        Feature::Webhooks,
        Feature::Import,
        Feature::LeadScoring,
        Feature::Intent,
        Feature::Dedup,
        Feature::Drafting,
        Feature::RelationshipMap,
        Feature::Patterns,
    ];

    /// The stored and API name. The AI features keep the keys their old
    /// `ai_flag` rows had.
    pub fn key(self) -> &'static str {
        match self {
            Feature::Chat => "chat",
            Feature::Telegram => "telegram",
            Feature::Discord => "discord",
            Feature::Webhooks => "webhooks",
            Feature::LeadScoring => "lead_scoring",
            Feature::Intent => "intent",
            Feature::Dedup => "dedup",
            Feature::Drafting => "drafting",
            Feature::RelationshipMap => "relationship_map",
            Feature::Patterns => "patterns",
            Feature::Import => "import",
        }
    }

    /// What people call it.
    pub fn name(self) -> &'static str {
        match self {
            Feature::Chat => "Chat",
            Feature::Telegram => "Telegram bot",
            Feature::Discord => "Discord bot",
            Feature::Webhooks => "Webhooks",
            Feature::LeadScoring => "AI lead scoring",
            Feature::Intent => "AI intent detection",
            Feature::Dedup => "AI duplicate detection",
            Feature::Drafting => "AI drafting",
            Feature::RelationshipMap => "Relationship map",
            Feature::Patterns => "Productivity patterns",
            Feature::Import => "Lead import",
        }
    }

    /// The AI features, which `ai.manage` may switch as well as
    /// `settings.manage`.
    pub fn is_ai(self) -> bool {
        matches!(
            self,
            Feature::LeadScoring
                | Feature::Intent
                | Feature::Dedup
                | Feature::Drafting
                | Feature::RelationshipMap
                | Feature::Patterns
        )
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// The refusal a switched-off feature answers with.
    pub fn refusal(self) -> DomainError {
        DomainError::FeatureDisabled {
            feature: self.key(),
            name: self.name(),
        }
    }
}

impl FromStr for Feature {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Feature::ALL
            .into_iter()
            .find(|f| f.key() == s)
            .ok_or_else(|| {
                let keys: Vec<&str> = Feature::ALL.iter().map(|f| f.key()).collect();
                DomainError::invalid("feature", format!("use one of {}", keys.join(", ")))
            })
    }
}

/// Which features are off: a set small enough to copy on every check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Off(u16);

impl Off {
    pub fn contains(self, feature: Feature) -> bool {
        self.0 & feature.bit() != 0
    }

    fn set(&mut self, feature: Feature, enabled: bool) {
        if enabled {
            self.0 &= !feature.bit();
        } else {
            self.0 |= feature.bit();
        }
    }
}

/// This instance's view of the switches.
#[derive(Clone)]
pub struct FeatureSwitches {
    current: Arc<watch::Sender<Off>>,
}

impl Default for FeatureSwitches {
    fn default() -> Self {
        FeatureSwitches {
            current: Arc::new(watch::Sender::new(Off::default())),
        }
    }
}

impl FeatureSwitches {
    /// The features off now, as last read.
    pub fn off(&self) -> Off {
        *self.current.borrow()
    }

    /// Follows changes (open sockets close when chat goes off).
    pub fn subscribe(&self) -> watch::Receiver<Off> {
        self.current.subscribe()
    }

    /// Replaces the view; returns what was off before.
    fn replace(&self, off: Off) -> Off {
        let mut before = off;
        self.current.send_if_modified(|current| {
            before = *current;
            *current = off;
            before != off
        });
        before
    }
}

/// Whether `feature` is on now (no query: the instance's view).
pub fn is_on(ctx: &Ctx, feature: Feature) -> bool {
    !ctx.features.off().contains(feature)
}

/// Fails with `feature_disabled` when `feature` is switched off.
pub fn require(ctx: &Ctx, feature: Feature) -> DomainResult<()> {
    if is_on(ctx, feature) {
        Ok(())
    } else {
        Err(feature.refusal())
    }
}

#[derive(Debug, Clone, Deserialize)]
struct Row {
    id: String,
    enabled: bool,
    #[serde(default)]
    updated_by: Option<String>,
    updated_at: DateTime<Utc>,
}

async fn rows(store: &Store) -> DomainResult<Vec<Row>> {
    Ok(store
        .run(
            "SELECT record::id(id) AS id, enabled, updated_by, updated_at FROM feature_switch",
            json!({}),
        )
        .await?
        .rows(0)?)
}

fn off_of(rows: &[Row]) -> Off {
    let mut off = Off::default();
    for row in rows {
        if let Ok(feature) = row.id.parse::<Feature>() {
            off.set(feature, row.enabled);
        }
    }
    off
}

/// Re-reads the stored switches into this instance's view.
pub async fn refresh(ctx: &Ctx) -> DomainResult<Off> {
    let off = off_of(&rows(&ctx.store).await?);
    took_effect(ctx, ctx.features.replace(off), off);
    Ok(off)
}

/// What a change starts at once on this instance: webhook deliveries that
/// waited while webhooks were off go out without waiting for the next poll.
fn took_effect(ctx: &Ctx, before: Off, after: Off) {
    if before.contains(Feature::Webhooks) && !after.contains(Feature::Webhooks) {
        super::webhooks::wake(ctx);
    }
}

/// One feature's switch, as listed.
#[derive(Debug, Clone, Serialize)]
pub struct Switch {
    pub feature: Feature,
    pub enabled: bool,
    /// When it was last switched; `None` if never.
    pub updated_at: Option<DateTime<Utc>>,
    /// Who switched it last (user id), and their username when the user
    /// still exists.
    pub updated_by: Option<String>,
    pub updated_by_name: Option<String>,
}

/// Every feature with its switch, in `Feature::ALL` order. Anyone signed in
/// may read them: the panel hides what is off.
pub async fn list(ctx: &Ctx) -> DomainResult<Vec<Switch>> {
    let rows = rows(&ctx.store).await?;
    let mut out = Vec::with_capacity(Feature::ALL.len());
    for feature in Feature::ALL {
        let row = rows.iter().find(|r| r.id == feature.key());
        let updated_by = row.and_then(|r| r.updated_by.clone());
        let updated_by_name = match &updated_by {
            Some(user) => username_of(&ctx.store, user).await?,
            None => None,
        };
        out.push(Switch {
            feature,
            enabled: row.is_none_or(|r| r.enabled),
            updated_at: row.map(|r| r.updated_at),
            updated_by,
            updated_by_name,
        });
    }
    // What was read is the freshest state there is.
    let off = off_of(&rows);
    took_effect(ctx, ctx.features.replace(off), off);
    Ok(out)
}

async fn username_of(store: &Store, user: &str) -> DomainResult<Option<String>> {
    Ok(store
        .run(
            "SELECT VALUE username FROM ONLY type::record('user', $id)",
            json!({"id": user}),
        )
        .await?
        .first(0)?)
}

/// Who may switch `feature`: `settings.manage` any of them, `ai.manage`
/// the AI ones as well.
fn may_switch(actor: &Actor, feature: Feature) -> DomainResult<()> {
    if feature.is_ai() {
        actor.require_any(&[Permission::SettingsManage, Permission::AiManage])
    } else {
        actor.require(Permission::SettingsManage)
    }
}

/// Switches `feature` on or off, audited in the same transaction; holds on
/// this instance at once and on the others within a second.
pub async fn set(
    ctx: &Ctx,
    actor: &Actor,
    feature: Feature,
    enabled: bool,
) -> DomainResult<Switch> {
    may_switch(actor, feature)?;
    let before = off_of(&rows(&ctx.store).await?);
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("f", feature.key())
        .bind("enabled", enabled)
        .bind("by", &actor.user_id)
        .bind("now", db_time(now));
    tx.push(
        "UPSERT type::record('feature_switch', $f) SET enabled = $enabled, \
         updated_by = $by, updated_at = <datetime>$now",
    );
    audit::record(
        &mut tx,
        actor,
        "feature_switch",
        feature.key(),
        "update",
        &[FieldChange::new(
            "enabled",
            Some(json!(!before.contains(feature))),
            Some(json!(enabled)),
        )],
        now,
    );
    tx.commit(&ctx.store).await?;
    // Another instance may have switched something else meanwhile: read
    // the whole set rather than patching the one bit.
    if let Err(e) = refresh(ctx).await {
        tracing::warn!(error = %e, "could not re-read the feature switches");
        let mut off = ctx.features.off();
        off.set(feature, enabled);
        took_effect(ctx, ctx.features.replace(off), off);
    }
    Ok(Switch {
        feature,
        enabled,
        updated_at: Some(now),
        updated_by: Some(actor.user_id.clone()),
        updated_by_name: Some(actor.username.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_feature_has_its_own_key_and_bit_and_parses_back() {
        let mut seen = std::collections::HashSet::new();
        for feature in Feature::ALL {
            assert!(seen.insert(feature.bit()), "{feature:?}");
            assert_eq!(feature.key().parse::<Feature>().unwrap(), feature);
            assert!(!feature.name().is_empty());
        }
        assert_eq!(seen.len(), 11);
        assert!("mind_reading".parse::<Feature>().is_err());
    }

    #[test]
    fn off_holds_what_was_switched_off_and_nothing_else() {
        let mut off = Off::default();
        assert!(Feature::ALL.iter().all(|f| !off.contains(*f)));
        off.set(Feature::Chat, false);
        off.set(Feature::Patterns, false);
        off.set(Feature::Patterns, true);
        assert!(off.contains(Feature::Chat));
        assert!(!off.contains(Feature::Patterns));
        assert!(!off.contains(Feature::Import));
    }
}
