//! Analytics for dashboards (`analytics.read`): each report is one or two
//! aggregate queries (GROUP BY with count() and math::*) over indexed
//! ranges, returning rows ready to chart; nothing loads every record into
//! the app. The lead reports (funnel, breakdowns), task throughput and
//! follow-up compliance do not even read every row of the range: they sum
//! roll-ups for the whole UTC days (and months) in it and aggregate only
//! the partial days at its ends (see `rollup`).
//!
//! Definitions the numbers rely on:
//! - Funnel: live leads created in the range, by current status. A lead has
//!   "reached" a stage when its current status is that stage or a later
//!   one that is not lost; lost leads count only at the first stage (their
//!   furthest stage is not kept on the row). Conversion is reached(stage) /
//!   reached(previous stage).
//! - Follow-up compliance: follow-ups scheduled in the range and already
//!   due; on time means done no later than 24 hours after the scheduled
//!   time.
//! - Time to first contact and responses: see `contact`.
//! - Task throughput: tasks reaching a done status in the range; cycle time
//!   is start (or creation) to done; on-time rate counts tasks with a due
//!   date only.

pub mod contact;
pub mod rollup;
pub mod split;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use crate::domain::actor::Actor;
use crate::domain::clock::db_time;
use crate::domain::crm::pipeline;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::permissions::Permission;
use crate::domain::Ctx;
use rollup::{RollupQuery, Totals};

mod workload;
pub use workload::{overdue_range, workload, workload_rows, StatusCount, Workload};

/// A half-open time range [from, to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Range {
    /// The given bounds; by default the 30 days up to now.
    pub fn new(
        now: DateTime<Utc>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> DomainResult<Range> {
        let to = to.unwrap_or(now);
        let from = from.unwrap_or(to - Duration::days(30));
        if from >= to {
            return Err(DomainError::invalid("from", "must be before `to`"));
        }
        if to - from > Duration::days(3660) {
            return Err(DomainError::invalid(
                "from",
                "the range is at most ten years",
            ));
        }
        Ok(Range { from, to })
    }

    fn vars(&self) -> Value {
        json!({"from": db_time(self.from), "to": db_time(self.to)})
    }
}

/// Casts the range's bounds once, ahead of the queries: a cast inside a
/// WHERE clause hides the range from SurrealDB's planner, which then scans
/// the whole table instead of the time index.
const RANGE_LETS: &str = "LET $since = <datetime>$from; LET $until = <datetime>$to;\n";
/// The result index of the first query after `RANGE_LETS`.
const FIRST: usize = 2;

/// `sql` with the range's bounds cast ahead of it.
fn in_range(sql: &str) -> String {
    format!("{RANGE_LETS}{sql}")
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

#[derive(Debug, Clone, Serialize)]
pub struct FunnelStage {
    pub status: String,
    pub name: String,
    pub is_won: bool,
    pub is_lost: bool,
    /// Leads whose current status this is.
    pub current: u64,
    /// Leads at this stage or past it (none for lost stages).
    pub reached: u64,
    /// reached / the previous stage's reached.
    pub conversion: Option<f64>,
}

pub async fn funnel(ctx: &Ctx, actor: &Actor, range: Range) -> DomainResult<Vec<FunnelStage>> {
    actor.require(Permission::AnalyticsRead)?;
    let counts = rollup::lead_counts(ctx, None, range).await?;
    let statuses = pipeline::list_all(ctx).await?;
    let current = |key: &str| counts.get(&(None, key.to_string())).copied().unwrap_or(0);
    let lost_total: u64 = statuses
        .iter()
        .filter(|s| s.is_lost)
        .map(|s| current(&s.id))
        .sum();
    let path: Vec<_> = statuses.iter().filter(|s| !s.is_lost).collect();
    let mut out = Vec::new();
    let mut previous: Option<u64> = None;
    for (i, s) in path.iter().enumerate() {
        let mut reached: u64 = path[i..].iter().map(|later| current(&later.id)).sum();
        if i == 0 {
            reached += lost_total;
        }
        out.push(FunnelStage {
            status: s.id.clone(),
            name: s.name.clone(),
            is_won: s.is_won,
            is_lost: false,
            current: current(&s.id),
            reached,
            conversion: previous.and_then(|p| ratio(reached, p)),
        });
        previous = Some(reached);
    }
    for s in statuses.iter().filter(|s| s.is_lost) {
        out.push(FunnelStage {
            status: s.id.clone(),
            name: s.name.clone(),
            is_won: false,
            is_lost: true,
            current: current(&s.id),
            reached: 0,
            conversion: None,
        });
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Source,
    Owner,
    Country,
    Industry,
}

impl Dimension {
    pub fn parse(raw: &str) -> DomainResult<Dimension> {
        match raw {
            "source" => Ok(Dimension::Source),
            "owner" => Ok(Dimension::Owner),
            "country" => Ok(Dimension::Country),
            "industry" => Ok(Dimension::Industry),
            other => Err(DomainError::invalid(
                "by",
                format!("`{other}`: use source, owner, country or industry"),
            )),
        }
    }

    fn field(self) -> &'static str {
        match self {
            Dimension::Source => "source",
            Dimension::Owner => "owner",
            Dimension::Country => "country",
            Dimension::Industry => "industry",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Breakdown {
    /// The dimension's value; absent for leads without one.
    pub key: Option<String>,
    pub leads: u64,
    pub won: u64,
    pub lost: u64,
    pub win_rate: Option<f64>,
}

/// Leads created in the range by one dimension, with won and lost counts;
/// largest first.
pub async fn leads_by(
    ctx: &Ctx,
    actor: &Actor,
    by: Dimension,
    range: Range,
) -> DomainResult<Vec<Breakdown>> {
    actor.require(Permission::AnalyticsRead)?;
    let statuses = pipeline::list_all(ctx).await?;
    let won: Vec<&str> = statuses
        .iter()
        .filter(|s| s.is_won)
        .map(|s| s.id.as_str())
        .collect();
    let lost: Vec<&str> = statuses
        .iter()
        .filter(|s| s.is_lost)
        .map(|s| s.id.as_str())
        .collect();
    let counts = rollup::lead_counts(ctx, Some(by), range).await?;
    let mut groups: BTreeMap<Option<String>, Breakdown> = BTreeMap::new();
    for ((key, status), n) in counts {
        let row = groups.entry(key.clone()).or_insert_with(|| Breakdown {
            key,
            leads: 0,
            won: 0,
            lost: 0,
            win_rate: None,
        });
        row.leads += n;
        if won.contains(&status.as_str()) {
            row.won += n;
        }
        if lost.contains(&status.as_str()) {
            row.lost += n;
        }
    }
    let mut out: Vec<Breakdown> = groups
        .into_values()
        .map(|b| Breakdown {
            win_rate: ratio(b.won, b.won + b.lost),
            ..b
        })
        .collect();
    out.sort_by(|a, b| b.leads.cmp(&a.leads).then(a.key.cmp(&b.key)));
    Ok(out)
}

#[derive(Debug, Clone, Serialize)]
pub struct Compliance {
    pub owner: Option<String>,
    /// Follow-ups scheduled in the range whose time has come.
    pub due: u64,
    pub done: u64,
    pub done_on_time: u64,
    pub on_time_rate: Option<f64>,
}

pub async fn follow_up_compliance(
    ctx: &Ctx,
    actor: &Actor,
    range: Range,
) -> DomainResult<Vec<Compliance>> {
    actor.require(Permission::AnalyticsRead)?;
    // Only follow-ups whose time has come are due.
    let range = Range {
        from: range.from,
        to: range.to.min(ctx.now()),
    };
    if range.from >= range.to {
        return Ok(Vec::new());
    }
    let totals = RollupQuery::new(&rollup::FOLLOW_UPS_SCHEDULED, &["owner"], range)
        .run(ctx)
        .await?;
    Ok(compliance_rows(totals))
}

/// Compliance rows by owner from the follow-up roll-up's figures (due,
/// done, on time).
pub fn compliance_rows(totals: Totals) -> Vec<Compliance> {
    // Totals are ordered by their key: by owner, none first.
    totals
        .into_iter()
        .map(|(mut key, f)| Compliance {
            owner: key.pop().flatten(),
            due: f[0],
            done: f[1],
            done_on_time: f[2],
            on_time_rate: ratio(f[2], f[0]),
        })
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    pub assignee: Option<String>,
    pub task_type: String,
    pub done: u64,
    pub mean_cycle_hours: Option<f64>,
    /// Done tasks that had a due date, and how many of them met it.
    pub with_due: u64,
    pub on_time: u64,
    pub on_time_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DayCount {
    /// YYYY-MM-DD (UTC).
    pub day: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskReport {
    pub by_person_and_type: Vec<Throughput>,
    pub done_per_day: Vec<DayCount>,
}

pub async fn tasks(ctx: &Ctx, actor: &Actor, range: Range) -> DomainResult<TaskReport> {
    actor.require(Permission::AnalyticsRead)?;
    let [by, per_day] = rollup::run_together(
        ctx,
        [
            &RollupQuery::new(&rollup::TASKS_DONE, &["assignee", "task_type"], range),
            &RollupQuery::new(&rollup::TASKS_DONE_PER_DAY, &[rollup::DAY], range),
        ],
    )
    .await?;
    Ok(TaskReport {
        by_person_and_type: throughput_rows(by),
        done_per_day: day_counts(per_day),
    })
}

/// Throughput rows by assignee and type from the task roll-up's figures
/// (done, cycle seconds, with a cycle time, with a due date, on time).
pub fn throughput_rows(totals: Totals) -> Vec<Throughput> {
    // Totals are ordered by their key: assignee (none first), then type.
    totals
        .into_iter()
        .map(|(mut key, f)| {
            let task_type = key.pop().flatten().unwrap_or_default();
            Throughput {
                assignee: key.pop().flatten(),
                task_type,
                done: f[0],
                mean_cycle_hours: (f[2] > 0).then(|| f[1] as f64 / f[2] as f64 / 3600.0),
                with_due: f[3],
                on_time: f[4],
                on_time_rate: ratio(f[4], f[3]),
            }
        })
        .collect()
}

/// The daily series of a report from its per-day roll-up's first figure
/// (totals are ordered by their key, the day).
fn day_counts(per_day: Totals) -> Vec<DayCount> {
    per_day
        .into_iter()
        .map(|(key, f)| DayCount {
            day: key.into_iter().next().flatten().unwrap_or_default(),
            count: f[0],
        })
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct AuthorCount {
    pub user: String,
    pub messages: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChatReport {
    pub messages_per_day: Vec<DayCount>,
    pub by_author: Vec<AuthorCount>,
}

/// Messages posted in the range (deleted ones excluded), by day and author,
/// from the message roll-ups (see `rollup`).
pub async fn chat(ctx: &Ctx, actor: &Actor, range: Range) -> DomainResult<ChatReport> {
    actor.require(Permission::AnalyticsRead)?;
    let [by_author, per_day] = rollup::run_together(
        ctx,
        [
            &RollupQuery::new(&rollup::MESSAGES_BY_AUTHOR, &["author"], range),
            &RollupQuery::new(&rollup::MESSAGES_PER_DAY, &[rollup::DAY], range),
        ],
    )
    .await?;
    Ok(chat_report(by_author, per_day))
}

/// The chat report from its roll-ups' figures by author and by day.
pub fn chat_report(by_author: Totals, per_day: Totals) -> ChatReport {
    let mut by_author: Vec<AuthorCount> = by_author
        .into_iter()
        .map(|(key, f)| AuthorCount {
            user: key.into_iter().next().flatten().unwrap_or_default(),
            messages: f[0],
        })
        .collect();
    by_author.sort_by(|a, b| b.messages.cmp(&a.messages).then(a.user.cmp(&b.user)));
    ChatReport {
        messages_per_day: day_counts(per_day),
        by_author,
    }
}
