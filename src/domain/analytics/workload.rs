//! Open work per person right now: the Production Manager's workload view.
//! Not tied to a range because it is a snapshot of the board, not a
//! history; read from roll-ups the store keeps with every task change, so
//! it costs the same for a board of a hundred open tasks or of a million.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::rollup::{self, RollupQuery, Totals};
use super::{u, Range};
use crate::domain::actor::Actor;
use crate::domain::error::DomainResult;
use crate::domain::permissions::Permission;
use crate::domain::Ctx;
use crate::store::transaction::Transaction;

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

/// The due dates whose tasks, still open, are overdue at `now`: from
/// before any due date a task can have up to `now`.
pub fn overdue_range(now: DateTime<Utc>) -> Range {
    let long_ago = NaiveDate::from_ymd_opt(1, 1, 1)
        .expect("a valid date")
        .and_time(NaiveTime::MIN)
        .and_utc();
    Range {
        from: long_ago,
        to: now,
    }
}

/// Open tasks per assignee, most loaded first (then by assignee id), from
/// the workload roll-ups (migration 0034), read in one transaction.
pub async fn workload(ctx: &Ctx, actor: &Actor) -> DomainResult<Vec<Workload>> {
    actor.require(Permission::AnalyticsRead)?;
    let overdue = RollupQuery::new(
        &rollup::OPEN_TASKS_DUE,
        &["assignee"],
        overdue_range(ctx.now()),
    );
    let mut tx = Transaction::new();
    let open_at = tx.push("SELECT assignee, status, open FROM task_open_assignee WHERE open > 0");
    let overdue_at = overdue.push(&mut tx, false);
    let results = tx.commit(&ctx.store).await?;
    Ok(workload_rows(
        &results.rows::<Value>(open_at)?,
        overdue.totals(&results, &overdue_at)?,
    ))
}

/// The workload rows from the open tasks by (assignee, status) and the
/// overdue ones by assignee.
pub fn workload_rows(open: &[Value], overdue: Totals) -> Vec<Workload> {
    let mut out: Vec<Workload> = Vec::new();
    for r in open {
        let assignee = r["assignee"].as_str().map(str::to_string);
        let count = u(&r["open"]);
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
    for (key, f) in overdue {
        let assignee = key.into_iter().next().flatten();
        if let Some(w) = out.iter_mut().find(|w| w.assignee == assignee) {
            w.overdue = f[0];
        }
    }
    for w in &mut out {
        w.by_status.sort_by(|a, b| a.status.cmp(&b.status));
    }
    out.sort_by(|a, b| b.open.cmp(&a.open).then(a.assignee.cmp(&b.assignee)));
    out
}
