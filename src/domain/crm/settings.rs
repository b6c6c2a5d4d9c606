//! CRM settings admins change: what happens after the third follow-up
//! without a reply, how new leads are assigned, and how long the trash
//! keeps a lead.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::actor::Actor;
use crate::domain::audit;
use crate::domain::clock::db_time;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::permissions::Permission;
use crate::domain::Ctx;
use crate::store::Transaction;

/// After follow-up 3 ends without a reply (no answer, done or skipped),
/// the lead moves to `status` when `enabled`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AfterThirdRule {
    pub enabled: bool,
    pub status: String,
}

impl Default for AfterThirdRule {
    fn default() -> Self {
        AfterThirdRule {
            enabled: true,
            status: "cold".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentMode {
    /// The creator owns the lead unless an owner is given.
    #[default]
    Manual,
    /// New leads go in turn to the active users of `role`.
    RoundRobin,
    /// New leads go to the user named for the lead's country; others to the creator.
    Territory,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct AssignmentRule {
    pub mode: AssignmentMode,
    /// For round robin: the role whose users take turns.
    #[serde(default)]
    pub role: Option<String>,
    /// For territory: country code -> user id.
    #[serde(default)]
    pub territories: BTreeMap<String, String>,
}

/// How long a lead stays in the trash before it is deleted for good;
/// `None` (the default) keeps it until someone empties the trash.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct TrashRetention {
    pub trash_retention_days: Option<u32>,
}

/// The longest retention an admin may set: ten years.
pub const MAX_TRASH_RETENTION_DAYS: u32 = 3650;

pub const AFTER_THIRD: &str = "after_third_follow_up";
pub const ASSIGNMENT: &str = "lead_assignment";
pub const TRASH_RETENTION: &str = "trash_retention";

pub async fn read<T: DeserializeOwned + Default>(ctx: &Ctx, key: &str) -> DomainResult<T> {
    let row: Option<serde_json::Value> = ctx
        .store
        .run(
            "SELECT data FROM ONLY type::record('setting', $key)",
            json!({"key": key}),
        )
        .await?
        .first(0)?;
    Ok(row
        .and_then(|r| {
            r["data"]
                .as_str()
                .and_then(|v| serde_json::from_str(v).ok())
        })
        .unwrap_or_default())
}

async fn write<T: Serialize>(
    ctx: &Ctx,
    actor: &Actor,
    key: &str,
    before: &T,
    value: &T,
) -> DomainResult<()> {
    let now = ctx.now();
    let text = serde_json::to_string(value).map_err(|e| DomainError::Internal(e.to_string()))?;
    let mut tx = Transaction::new();
    tx.bind("key", key)
        .bind("value", &text)
        .bind("now", db_time(now));
    tx.push("UPSERT type::record('setting', $key) SET data = $value, updated_at = <datetime>$now");
    let changes = audit::diff(&json!({ key: before }), &json!({ key: value }), &[]);
    audit::record(&mut tx, actor, "setting", key, "update", &changes, now);
    tx.commit(&ctx.store).await?;
    Ok(())
}

pub async fn after_third_rule(ctx: &Ctx) -> DomainResult<AfterThirdRule> {
    read(ctx, AFTER_THIRD).await
}

pub async fn set_after_third_rule(
    ctx: &Ctx,
    actor: &Actor,
    rule: AfterThirdRule,
) -> DomainResult<AfterThirdRule> {
    actor.require(Permission::SettingsManage)?;
    let status = super::pipeline::require(ctx, &rule.status).await?;
    let rule = AfterThirdRule {
        enabled: rule.enabled,
        status: status.id,
    };
    let before = after_third_rule(ctx).await?;
    write(ctx, actor, AFTER_THIRD, &before, &rule).await?;
    Ok(rule)
}

pub async fn assignment_rule(ctx: &Ctx) -> DomainResult<AssignmentRule> {
    read(ctx, ASSIGNMENT).await
}

pub async fn set_assignment_rule(
    ctx: &Ctx,
    actor: &Actor,
    rule: AssignmentRule,
) -> DomainResult<AssignmentRule> {
    actor.require(Permission::SettingsManage)?;
    if rule.mode == AssignmentMode::RoundRobin {
        let role = rule
            .role
            .as_deref()
            .ok_or_else(|| DomainError::invalid("role", "round robin needs a role"))?;
        crate::domain::roles::find(ctx, role)
            .await?
            .ok_or_else(|| DomainError::invalid("role", format!("no role `{role}`")))?;
    }
    let mut territories = BTreeMap::new();
    for (country, user) in &rule.territories {
        let code = crate::domain::geo::parse_country(country)?;
        crate::domain::users::find_record(ctx, user)
            .await?
            .ok_or_else(|| {
                DomainError::invalid("territories", format!("no user `{user}` for {code}"))
            })?;
        territories.insert(code.to_string(), user.clone());
    }
    let rule = AssignmentRule {
        territories,
        ..rule
    };
    let before = assignment_rule(ctx).await?;
    write(ctx, actor, ASSIGNMENT, &before, &rule).await?;
    Ok(rule)
}

pub async fn trash_retention(ctx: &Ctx) -> DomainResult<TrashRetention> {
    read(ctx, TRASH_RETENTION).await
}

/// Sets (or, with `None`, switches off) the trash retention
/// (`settings.manage`): 1 to 3650 days.
pub async fn set_trash_retention(
    ctx: &Ctx,
    actor: &Actor,
    rule: TrashRetention,
) -> DomainResult<TrashRetention> {
    actor.require(Permission::SettingsManage)?;
    if let Some(days) = rule.trash_retention_days {
        if !(1..=MAX_TRASH_RETENTION_DAYS).contains(&days) {
            return Err(DomainError::invalid(
                "trash_retention_days",
                format!("must be 1 to {MAX_TRASH_RETENTION_DAYS} days, or null for never"),
            ));
        }
    }
    let before = trash_retention(ctx).await?;
    write(ctx, actor, TRASH_RETENTION, &before, &rule).await?;
    Ok(rule)
}
