//! Pipeline statuses: admin-configurable, ordered, with won/lost flags that
//! analytics rely on.

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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PipelineStatus {
    /// Stable key stored on leads, e.g. `qualified`.
    pub id: String,
    pub name: String,
    pub position: i64,
    pub is_won: bool,
    pub is_lost: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The status new leads get unless told otherwise.
pub const INITIAL_STATUS: &str = "new";

pub async fn list_all(ctx: &Ctx) -> DomainResult<Vec<PipelineStatus>> {
    Ok(ctx
        .store
        .run(
            "SELECT *, record::id(id) AS id FROM pipeline_status ORDER BY position ASC",
            json!({}),
        )
        .await?
        .rows(0)?)
}

pub async fn list(ctx: &Ctx, _actor: &Actor) -> DomainResult<Vec<PipelineStatus>> {
    list_all(ctx).await
}

pub async fn find(ctx: &Ctx, key: &str) -> DomainResult<Option<PipelineStatus>> {
    if key.is_empty() {
        return Ok(None);
    }
    Ok(ctx
        .store
        .run(
            "SELECT *, record::id(id) AS id FROM ONLY type::record('pipeline_status', $key)",
            json!({"key": key}),
        )
        .await?
        .first(0)?)
}

/// A status key that exists, for validating lead input.
pub async fn require(ctx: &Ctx, raw: &str) -> DomainResult<PipelineStatus> {
    let key = raw.trim().to_ascii_lowercase().replace([' ', '-'], "_");
    find(ctx, &key).await?.ok_or_else(|| {
        DomainError::invalid("status", format!("no pipeline status `{}`", raw.trim()))
    })
}

#[derive(Debug, Clone, Default)]
pub struct StatusInput {
    pub key: Option<String>,
    pub name: Option<String>,
    pub position: Option<i64>,
    pub is_won: Option<bool>,
    pub is_lost: Option<bool>,
}

fn parse_key(raw: &str) -> DomainResult<String> {
    let key = raw.trim().to_ascii_lowercase();
    let ok = (2..=40).contains(&key.len())
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    ok.then_some(key)
        .ok_or_else(|| DomainError::invalid("key", "2 to 40 characters: a-z, 0-9, _"))
}

pub async fn create(ctx: &Ctx, actor: &Actor, input: StatusInput) -> DomainResult<PipelineStatus> {
    actor.require(Permission::SettingsManage)?;
    let key = parse_key(input.key.as_deref().unwrap_or(""))?;
    let name = input
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(&key)
        .to_string();
    let (won, lost) = (
        input.is_won.unwrap_or(false),
        input.is_lost.unwrap_or(false),
    );
    if won && lost {
        return Err(DomainError::invalid(
            "is_won",
            "a status cannot be both won and lost",
        ));
    }
    let position = match input.position {
        Some(p) => p,
        None => {
            list_all(ctx)
                .await?
                .iter()
                .map(|s| s.position)
                .max()
                .unwrap_or(0)
                + 10
        }
    };
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("key", &key)
        .bind("name", &name)
        .bind("position", position)
        .bind("won", won)
        .bind("lost", lost)
        .bind("now", db_time(now));
    tx.push(
        "CREATE type::record('pipeline_status', $key) SET name = $name, position = $position, is_won = $won,
            is_lost = $lost, created_at = <datetime>$now, updated_at = <datetime>$now",
    );
    let changes = [FieldChange::new("name", None, Some(json!(name)))];
    audit::record(
        &mut tx,
        actor,
        "pipeline_status",
        &key,
        "create",
        &changes,
        now,
    );
    tx.commit(&ctx.store).await?;
    find(ctx, &key)
        .await?
        .ok_or(DomainError::NotFound("pipeline status"))
}

pub async fn update(
    ctx: &Ctx,
    actor: &Actor,
    key: &str,
    input: StatusInput,
) -> DomainResult<PipelineStatus> {
    actor.require(Permission::SettingsManage)?;
    let before = find(ctx, key)
        .await?
        .ok_or(DomainError::NotFound("pipeline status"))?;
    let mut after = before.clone();
    if let Some(name) = input.name.as_deref().map(str::trim) {
        if name.is_empty() {
            return Err(DomainError::invalid("name", "must not be empty"));
        }
        after.name = name.to_string();
    }
    after.position = input.position.unwrap_or(after.position);
    after.is_won = input.is_won.unwrap_or(after.is_won);
    after.is_lost = input.is_lost.unwrap_or(after.is_lost);
    if after.is_won && after.is_lost {
        return Err(DomainError::invalid(
            "is_won",
            "a status cannot be both won and lost",
        ));
    }
    let view = |s: &PipelineStatus| json!({"name": s.name, "position": s.position, "is_won": s.is_won, "is_lost": s.is_lost});
    let changes = audit::diff(&view(&before), &view(&after), &[]);
    if changes.is_empty() {
        return Ok(before);
    }
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("key", key)
        .bind("name", &after.name)
        .bind("position", after.position)
        .bind("won", after.is_won)
        .bind("lost", after.is_lost)
        .bind("now", db_time(now));
    tx.push(
        "UPDATE type::record('pipeline_status', $key) SET name = $name, position = $position, is_won = $won,
            is_lost = $lost, updated_at = <datetime>$now",
    );
    audit::record(
        &mut tx,
        actor,
        "pipeline_status",
        key,
        "update",
        &changes,
        now,
    );
    tx.commit(&ctx.store).await?;
    find(ctx, key)
        .await?
        .ok_or(DomainError::NotFound("pipeline status"))
}

pub async fn delete(ctx: &Ctx, actor: &Actor, key: &str) -> DomainResult<()> {
    actor.require(Permission::SettingsManage)?;
    find(ctx, key)
        .await?
        .ok_or(DomainError::NotFound("pipeline status"))?;
    if key == INITIAL_STATUS {
        return Err(DomainError::Conflict(
            "`new` is the status of new leads and cannot be deleted".into(),
        ));
    }
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("key", key);
    // Trashed leads count too: restoring one must find its status.
    tx.push("IF math::sum((SELECT VALUE leads FROM lead_count WHERE status = $key)) > 0 { THROW 'leads still have this status; move them first' }");
    tx.push("DELETE type::record('pipeline_status', $key)");
    audit::record(&mut tx, actor, "pipeline_status", key, "delete", &[], now);
    tx.commit(&ctx.store).await?;
    Ok(())
}
