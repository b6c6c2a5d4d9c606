//! Per-feature switches. A feature is on until an admin switches it off;
//! a switched-off feature answers 409 and its background work pauses.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::actor::Actor;
use crate::domain::audit::{self, FieldChange};
use crate::domain::clock::db_time;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::permissions::Permission;
use crate::domain::Ctx;
use crate::store::Transaction;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    LeadScoring,
    Intent,
    Dedup,
    Drafting,
}

impl Feature {
    pub const ALL: [Feature; 4] = [
        Feature::LeadScoring,
        Feature::Intent,
        Feature::Dedup,
        Feature::Drafting,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Feature::LeadScoring => "lead_scoring",
            Feature::Intent => "intent",
            Feature::Dedup => "dedup",
            Feature::Drafting => "drafting",
        }
    }
}

impl FromStr for Feature {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Feature::ALL
            .into_iter()
            .find(|f| f.key() == s.trim())
            .ok_or_else(|| {
                DomainError::invalid("feature", "use lead_scoring, intent, dedup or drafting")
            })
    }
}

#[derive(Debug, Clone, Deserialize)]
struct FlagRow {
    id: String,
    enabled: bool,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Flag {
    pub feature: Feature,
    pub enabled: bool,
    pub updated_at: Option<DateTime<Utc>>,
}

pub async fn is_enabled(ctx: &Ctx, feature: Feature) -> DomainResult<bool> {
    let row: Option<bool> = ctx
        .store
        .run(
            "SELECT VALUE enabled FROM ONLY type::record('ai_flag', $f)",
            json!({"f": feature.key()}),
        )
        .await?
        .first(0)?;
    Ok(row.unwrap_or(true))
}

/// Fails with a 409 when `feature` is switched off.
pub async fn require_enabled(ctx: &Ctx, feature: Feature) -> DomainResult<()> {
    if is_enabled(ctx, feature).await? {
        Ok(())
    } else {
        Err(DomainError::Conflict(format!(
            "the AI feature `{}` is switched off",
            feature.key()
        )))
    }
}

pub async fn list(ctx: &Ctx) -> DomainResult<Vec<Flag>> {
    let rows: Vec<FlagRow> = ctx
        .store
        .run(
            "SELECT record::id(id) AS id, enabled, updated_at FROM ai_flag",
            json!({}),
        )
        .await?
        .rows(0)?;
    Ok(Feature::ALL
        .into_iter()
        .map(|feature| {
            let row = rows.iter().find(|r| r.id == feature.key());
            Flag {
                feature,
                enabled: row.is_none_or(|r| r.enabled),
                updated_at: row.map(|r| r.updated_at),
            }
        })
        .collect())
}

pub async fn set(ctx: &Ctx, actor: &Actor, feature: Feature, enabled: bool) -> DomainResult<Flag> {
    actor.require(Permission::AiManage)?;
    let before = is_enabled(ctx, feature).await?;
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("f", feature.key())
        .bind("enabled", enabled)
        .bind("by", &actor.user_id)
        .bind("now", db_time(now));
    tx.push("UPSERT type::record('ai_flag', $f) SET enabled = $enabled, updated_by = $by, updated_at = <datetime>$now");
    audit::record(
        &mut tx,
        actor,
        "ai_flag",
        feature.key(),
        "update",
        &[FieldChange::new(
            "enabled",
            Some(json!(before)),
            Some(json!(enabled)),
        )],
        now,
    );
    tx.commit(&ctx.store).await?;
    Ok(Flag {
        feature,
        enabled,
        updated_at: Some(now),
    })
}
