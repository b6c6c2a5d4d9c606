//! The task status workflow: an ordered list of statuses, stored so it can
//! be extended; the defaults are todo, in_progress, review, done and
//! cancelled. A closed status ends the work; a done one counts as finished
//! work in the analytics (cancelled is closed but not done).

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::actor::Actor;
use crate::domain::clock::db_time;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::permissions::Permission;
use crate::domain::Ctx;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaskStatus {
    pub key: String,
    pub name: String,
    pub position: i64,
    pub is_closed: bool,
    pub is_done: bool,
}

pub async fn list_all(ctx: &Ctx) -> DomainResult<Vec<TaskStatus>> {
    Ok(ctx
        .store
        .run(
            "SELECT record::id(id) AS key, name, position, is_closed, is_done FROM task_status ORDER BY position",
            json!({}),
        )
        .await?
        .rows(0)?)
}

pub async fn list(ctx: &Ctx, actor: &Actor) -> DomainResult<Vec<TaskStatus>> {
    actor.require(Permission::TasksRead)?;
    list_all(ctx).await
}

/// The status named `key`, or an error listing the valid ones.
pub async fn find(ctx: &Ctx, key: &str) -> DomainResult<TaskStatus> {
    let all = list_all(ctx).await?;
    all.iter().find(|s| s.key == key).cloned().ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|s| s.key.as_str()).collect();
        DomainError::invalid(
            "status",
            format!("`{key}`: use one of {}", names.join(", ")),
        )
    })
}

#[derive(Debug, Clone)]
pub struct NewTaskStatus {
    pub key: String,
    pub name: String,
    pub position: i64,
    pub is_closed: bool,
    pub is_done: bool,
}

/// Adds a status to the workflow (a production manager's setting).
pub async fn create(ctx: &Ctx, actor: &Actor, input: NewTaskStatus) -> DomainResult<TaskStatus> {
    actor.require(Permission::TasksManage)?;
    let key = input.key.trim().to_ascii_lowercase();
    if key.is_empty()
        || key.len() > 40
        || !key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(DomainError::invalid("key", "1 to 40 of a-z, 0-9 and _"));
    }
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(DomainError::invalid("name", "1 to 60 characters"));
    }
    if input.is_done && !input.is_closed {
        return Err(DomainError::invalid(
            "is_done",
            "a done status must be closed",
        ));
    }
    ctx.store
        .run(
            "CREATE type::record('task_status', $key) SET name = $name, position = $position,
                is_closed = $closed, is_done = $done, created_at = <datetime>$now",
            json!({"key": key, "name": name, "position": input.position, "closed": input.is_closed,
                   "done": input.is_done, "now": db_time(ctx.now())}),
        )
        .await?;
    find(ctx, &key).await
}
