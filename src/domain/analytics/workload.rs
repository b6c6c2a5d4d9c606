//! Open work per person right now: the Production Manager's workload view.
//! Two GROUP BY queries over the `is_open` indexes; not tied to a range
//! because it is a snapshot of the board, not a history.

use serde::Serialize;
use serde_json::{json, Value};

use super::u;
use crate::domain::actor::Actor;
use crate::domain::clock::db_time;
use crate::domain::error::DomainResult;
use crate::domain::permissions::Permission;
use crate::domain::Ctx;

#[derive(Debug, Clone, Serialize)]
pub struct StatusCount {
    pub status: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Workload {
    /// Absent for unassigned work.
    pub assignee: Option<String>,
    pub open: u64,
    /// Open with a due date already past.
    pub overdue: u64,
    pub by_status: Vec<StatusCount>,
}

/// Open tasks per assignee, most loaded first (then by assignee id).
pub async fn workload(ctx: &Ctx, actor: &Actor) -> DomainResult<Vec<Workload>> {
    actor.require(Permission::AnalyticsRead)?;
    let results = ctx
        .store
        .run(
            "SELECT assignee, status, count() AS n FROM task WHERE is_open = true
                GROUP BY assignee, status;
             SELECT assignee, count() AS n FROM task
                WHERE is_open = true AND due_at IS NOT NONE AND due_at < <datetime>$now
                GROUP BY assignee;",
            json!({"now": db_time(ctx.now())}),
        )
        .await?;
    let mut out: Vec<Workload> = Vec::new();
    for r in results.rows::<Value>(0)? {
        let assignee = r["assignee"].as_str().map(str::to_string);
        let count = u(&r["n"]);
        let status = r["status"].as_str().unwrap_or_default().to_string();
        let idx = match out.iter().position(|w| w.assignee == assignee) {
            Some(i) => i,
            None => {
                out.push(Workload {
                    assignee,
                    open: 0,
                    overdue: 0,
                    by_status: Vec::new(),
                });
                out.len() - 1
            }
        };
        out[idx].open += count;
        out[idx].by_status.push(StatusCount { status, count });
    }
    for r in results.rows::<Value>(1)? {
        let assignee = r["assignee"].as_str();
        if let Some(w) = out.iter_mut().find(|w| w.assignee.as_deref() == assignee) {
            w.overdue = u(&r["n"]);
        }
    }
    out.sort_by(|a, b| b.open.cmp(&a.open).then(a.assignee.cmp(&b.assignee)));
    Ok(out)
}
