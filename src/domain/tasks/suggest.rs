//! Who should take a new task: a rule, shown as a suggestion only (the task
//! is never assigned by it). Each person who may work tasks gets
//! `(done of this type in the last 90 days + 1) / (open tasks + 1)`: people
//! who finish this kind of work and have room for it come first.

use std::collections::HashMap;

use chrono::Duration;
use serde::Serialize;
use serde_json::{json, Value};

use crate::domain::actor::Actor;
use crate::domain::clock::db_time;
use crate::domain::error::DomainResult;
use crate::domain::permissions::Permission;
use crate::domain::Ctx;

#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub user_id: String,
    pub username: String,
    pub open_tasks: u64,
    pub done_of_type_90d: u64,
    pub score: f64,
}

/// How far back throughput counts.
const WINDOW_DAYS: i64 = 90;

fn counts(rows: &[Value]) -> HashMap<String, u64> {
    rows.iter()
        .filter_map(|r| Some((r["assignee"].as_str()?.to_string(), r["n"].as_u64()?)))
        .collect()
}

/// Candidates best first (ties: fewer open tasks, then username).
pub async fn suggest(ctx: &Ctx, actor: &Actor, task_type: &str) -> DomainResult<Vec<Candidate>> {
    actor.require(Permission::TasksWrite)?;
    let task_type = task_type.trim().to_ascii_lowercase();
    let since = ctx.now() - Duration::days(WINDOW_DAYS);
    let results = ctx
        .store
        .run(
            "LET $roles = SELECT VALUE record::id(id) FROM role WHERE permissions CONTAINS 'tasks.write';
             SELECT record::id(id) AS id, username FROM user
                WHERE active = true AND (role IN $roles OR extra_permissions CONTAINS 'tasks.write')
                ORDER BY username;
             SELECT assignee, count() AS n FROM task WHERE assignee IS NOT NONE AND is_open = true GROUP BY assignee;
             SELECT assignee, count() AS n FROM task
                WHERE task_type = $type AND completed_at IS NOT NONE AND completed_at >= <datetime>$since
                GROUP BY assignee;",
            json!({"type": task_type, "since": db_time(since)}),
        )
        .await?;
    let people: Vec<Value> = results.rows(1)?;
    let open = counts(&results.rows(2)?);
    let done = counts(&results.rows(3)?);
    let mut out: Vec<Candidate> = people
        .iter()
        .filter_map(|p| {
            let id = p["id"].as_str()?.to_string();
            let open_tasks = open.get(&id).copied().unwrap_or(0);
            let done_of_type_90d = done.get(&id).copied().unwrap_or(0);
            Some(Candidate {
                score: (done_of_type_90d as f64 + 1.0) / (open_tasks as f64 + 1.0),
                username: p["username"].as_str().unwrap_or_default().to_string(),
                user_id: id,
                open_tasks,
                done_of_type_90d,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.open_tasks.cmp(&b.open_tasks))
            .then(a.username.cmp(&b.username))
    });
    Ok(out)
}
