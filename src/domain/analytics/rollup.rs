//! Figures over a time range without walking every row in it.
//!
//! The database keeps roll-ups of the rows reports count (migrations 0030
//! to 0035): table views grouped by the UTC day (and for some by the UTC
//! month) of a time column, updated in the same transaction as every change
//! to their table. A range is answered in parts (see `split`):
//! - its whole months, summed from the monthly roll-up's rows, when the
//!   report has one;
//! - its other whole days, summed from the daily roll-up's rows;
//! - the partial days at its ends, aggregated from the rows themselves over
//!   the time column's index (each less than a day of rows).
//!
//! The parts are read in one transaction, so they see the same moment, and
//! added up by group. The answer is the one a GROUP BY over every row of the
//! range would give (see `recount`); the tests hold the two together after
//! every kind of change.

use std::collections::BTreeMap;

use serde_json::Value;

use super::split::{Grain, Split};
use super::{Dimension, Range};
use crate::domain::clock::db_time;
use crate::domain::error::DomainResult;
use crate::domain::Ctx;
use crate::store::transaction::Transaction;
use crate::store::Results;

/// One report's roll-ups and the rows they sum.
///
/// Every name here comes from the constants below, never from input.
#[derive(Debug)]
pub struct Rollup {
    /// The table whose rows are counted.
    pub table: &'static str,
    /// The time column whose UTC day (month) groups the roll-up rows.
    pub time: &'static str,
    /// The index on `time` the partial days are read through. Named, since
    /// the planner prefers a compound index with an equality on its first
    /// column (`task_open_due` for `is_open = true`), which it bounds on
    /// one side only: every later row would be read.
    pub time_index: &'static str,
    /// What else a row must meet to be counted (the views' WHERE clause,
    /// written for the rows), as `AND ...`, or empty.
    pub filter: &'static str,
    /// The daily roll-up: record ids `[day, group...]`.
    pub day_view: &'static str,
    /// The monthly roll-up: record ids `[month, group...]`.
    pub month_view: Option<&'static str>,
    /// The figures, each an aggregate over the table's rows that adds up
    /// across parts (counts, sums); the views hold each under its name.
    pub figures: &'static [(&'static str, &'static str)],
}

/// The group column standing for the UTC day of the time column.
pub const DAY: &str = "day";

/// Figures by group (one value per group column, `None` where the row has
/// none), in the order of the roll-up's `figures`.
pub type Totals = BTreeMap<Vec<Option<String>>, Vec<u64>>;

/// Live leads (not in the trash) by UTC creation day (month) and status,
/// and by one dimension too.
pub fn leads(by: Option<Dimension>) -> &'static Rollup {
    const fn lead_rollup(day_view: &'static str, month_view: &'static str) -> Rollup {
        Rollup {
            table: "lead",
            time: "created_at",
            time_index: "lead_created_at",
            filter: "AND deleted_at IS NONE",
            day_view,
            month_view: Some(month_view),
            figures: &[("leads", "count()")],
        }
    }
    static STATUS: Rollup = lead_rollup("lead_day_status", "lead_month_status");
    static SOURCE: Rollup = lead_rollup("lead_day_source", "lead_month_source");
    static OWNER: Rollup = lead_rollup("lead_day_owner", "lead_month_owner");
    static COUNTRY: Rollup = lead_rollup("lead_day_country", "lead_month_country");
    static INDUSTRY: Rollup = lead_rollup("lead_day_industry", "lead_month_industry");
    match by {
        None => &STATUS,
        Some(Dimension::Source) => &SOURCE,
        Some(Dimension::Owner) => &OWNER,
        Some(Dimension::Country) => &COUNTRY,
        Some(Dimension::Industry) => &INDUSTRY,
    }
}

/// Tasks done, by the UTC day (month) they were done, assignee and type:
/// how many, their cycle times, and how many had a due date and met it.
pub static TASKS_DONE: Rollup = Rollup {
    table: "task",
    time: "completed_at",
    time_index: "task_completed",
    filter: "",
    day_view: "task_day_done",
    month_view: Some("task_month_done"),
    figures: TASK_FIGURES,
};

/// Tasks done by UTC day alone, for the daily series.
pub static TASKS_DONE_PER_DAY: Rollup = Rollup {
    table: "task",
    time: "completed_at",
    time_index: "task_completed",
    filter: "",
    day_view: "task_day_total",
    month_view: None,
    figures: &[("done", "count()")],
};

const TASK_FIGURES: &[(&str, &str)] = &[
    ("done", "count()"),
    ("cycle_seconds", "math::sum(cycle_seconds ?? 0)"),
    ("with_cycle", "count(cycle_seconds IS NOT NONE)"),
    ("with_due", "count(on_time IS NOT NONE)"),
    ("on_time", "count(on_time = true)"),
];

/// Follow-ups by the UTC day (month) they were scheduled for and owner:
/// how many, how many done, how many done within a day of that time.
pub static FOLLOW_UPS_SCHEDULED: Rollup = Rollup {
    table: "follow_up",
    time: "scheduled_at",
    time_index: "follow_up_scheduled",
    filter: "",
    day_view: "follow_up_day_owner",
    month_view: Some("follow_up_month_owner"),
    figures: &[
        ("due", "count()"),
        ("done", "count(done_at IS NOT NONE)"),
        (
            "on_time",
            "count(done_at IS NOT NONE AND done_at <= scheduled_at + 1d)",
        ),
    ],
};

/// Calls by the UTC day (month) they were made and the rep who made them:
/// attempts, and how many reached the person.
pub static CALLS_BY_REP: Rollup = Rollup {
    table: "call",
    time: "at",
    time_index: "call_at",
    filter: "",
    day_view: "call_day_rep",
    month_view: Some("call_month_rep"),
    figures: CALL_FIGURES,
};

/// Calls by UTC day alone, for the daily series.
pub static CALLS_PER_DAY: Rollup = Rollup {
    table: "call",
    time: "at",
    time_index: "call_at",
    filter: "",
    day_view: "call_day_total",
    month_view: None,
    figures: CALL_FIGURES,
};

/// "Reached" is an outcome of `contact::ANSWERED_CALLS` (a unit test holds
/// the two lists together).
const CALL_FIGURES: &[(&str, &str)] = &[
    ("attempts", "count()"),
    (
        "reached",
        "count(outcome IN ['connected', 'interested', 'not_interested', 'callback'])",
    ),
];

/// Follow-ups done as a contact attempt, by the UTC day (month) they were
/// done and the rep who logged them: attempts, and how many were replied to.
pub static FOLLOW_UPS_DONE_BY_REP: Rollup = Rollup {
    table: "follow_up",
    time: "done_at",
    time_index: "follow_up_done",
    filter: FOLLOW_UP_ATTEMPT,
    day_view: "follow_up_done_day_rep",
    month_view: Some("follow_up_done_month_rep"),
    figures: FOLLOW_UP_DONE_FIGURES,
};

/// Follow-ups done as a contact attempt by UTC day alone.
pub static FOLLOW_UPS_DONE_PER_DAY: Rollup = Rollup {
    table: "follow_up",
    time: "done_at",
    time_index: "follow_up_done",
    filter: FOLLOW_UP_ATTEMPT,
    day_view: "follow_up_done_day_total",
    month_view: None,
    figures: FOLLOW_UP_DONE_FIGURES,
};

const FOLLOW_UP_ATTEMPT: &str = "AND outcome IN ['done', 'no_answer', 'replied']";

const FOLLOW_UP_DONE_FIGURES: &[(&str, &str)] = &[
    ("attempts", "count()"),
    ("reached", "count(outcome = 'replied')"),
];

/// Messages not deleted, by the UTC day (month) they were posted and author.
pub static MESSAGES_BY_AUTHOR: Rollup = Rollup {
    table: "message",
    time: "created_at",
    time_index: "message_created",
    filter: "AND deleted_at IS NONE",
    day_view: "message_day_author",
    month_view: Some("message_month_author"),
    figures: &[("messages", "count()")],
};

/// Messages not deleted by UTC day alone, for the daily series.
pub static MESSAGES_PER_DAY: Rollup = Rollup {
    table: "message",
    time: "created_at",
    time_index: "message_created",
    filter: "AND deleted_at IS NONE",
    day_view: "message_day_total",
    month_view: None,
    figures: &[("messages", "count()")],
};

/// Open tasks with a due date, by the UTC day (month) they are due and
/// assignee: over a range ending now, those overdue.
pub static OPEN_TASKS_DUE: Rollup = Rollup {
    table: "task",
    time: "due_at",
    time_index: "task_due_at",
    filter: "AND is_open = true",
    day_view: "task_open_due_day",
    month_view: Some("task_open_due_month"),
    figures: &[("open", "count()")],
};

/// A report's figures over a range, by group.
pub struct RollupQuery {
    rollup: &'static Rollup,
    group: Vec<&'static str>,
    split: Split,
}

impl RollupQuery {
    pub fn new(rollup: &'static Rollup, group: &[&'static str], range: Range) -> RollupQuery {
        let grain = if rollup.month_view.is_some() {
            Grain::Months
        } else {
            Grain::Days
        };
        RollupQuery {
            rollup,
            group: group.to_vec(),
            split: Split::of(range, grain),
        }
    }

    pub fn split(&self) -> &Split {
        &self.split
    }

    /// The batch, and the result index of each SELECT. With `explain`, each
    /// SELECT answers its plan instead of its rows.
    pub fn transaction(&self, explain: bool) -> (Transaction, Vec<usize>) {
        let mut tx = Transaction::new();
        let selects = self.push(&mut tx, explain);
        (tx, selects)
    }

    /// Adds the SELECTs of every part to `tx`; returns their result indexes.
    pub fn push(&self, tx: &mut Transaction, explain: bool) -> Vec<usize> {
        let r = self.rollup;
        let explain = if explain { " EXPLAIN" } else { "" };
        let grouping = grouping(&self.group);
        let columns = self
            .group
            .iter()
            .map(|c| format!("{c}, "))
            .collect::<String>();
        let sums = r
            .figures
            .iter()
            .map(|(name, _)| format!("math::sum({name}) AS {name}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut selects = Vec::new();
        let spans = self
            .split
            .months
            .iter()
            .filter_map(|span| r.month_view.map(|view| (view, span)))
            .chain(self.split.days.iter().map(|span| (r.day_view, span)));
        for (view, (first, end)) in spans {
            let k = tx.next_serial();
            tx.bind(&format!("first_{k}"), first)
                .bind(&format!("end_{k}"), end);
            selects.push(tx.push(format!(
                "SELECT {columns}{sums} FROM {view}:[$first_{k}]..[$end_{k}] {grouping}{explain}"
            )));
        }
        for edge in &self.split.edges {
            selects.push(push_live(tx, r, &self.group, *edge, explain));
        }
        selects
    }

    pub async fn run(&self, ctx: &Ctx) -> DomainResult<Totals> {
        let (tx, selects) = self.transaction(false);
        let results = tx.commit(&ctx.store).await?;
        self.totals(&results, &selects)
    }

    /// The parts' rows added up, from the results of the SELECTs `push`
    /// added.
    pub fn totals(&self, results: &Results, selects: &[usize]) -> DomainResult<Totals> {
        let mut totals = Totals::new();
        for &i in selects {
            add_rows(&mut totals, self.rollup, &self.group, &results.rows(i)?);
        }
        Ok(totals)
    }
}

/// Several queries' figures read in one transaction, so a report built of
/// them sees one moment; in the order of `queries`.
pub async fn run_together<const N: usize>(
    ctx: &Ctx,
    queries: [&RollupQuery; N],
) -> DomainResult<[Totals; N]> {
    let mut tx = Transaction::new();
    let selects: Vec<Vec<usize>> = queries.iter().map(|q| q.push(&mut tx, false)).collect();
    let results = tx.commit(&ctx.store).await?;
    let mut totals = Vec::with_capacity(N);
    for (query, selects) in queries.iter().zip(&selects) {
        totals.push(query.totals(&results, selects)?);
    }
    Ok(totals
        .try_into()
        .unwrap_or_else(|_| unreachable!("one total per query")))
}

fn grouping(group: &[&str]) -> String {
    if group.is_empty() {
        "GROUP ALL".to_string()
    } else {
        format!("GROUP BY {}", group.join(", "))
    }
}

/// A SELECT aggregating the rows of `range` themselves.
fn push_live(
    tx: &mut Transaction,
    r: &Rollup,
    group: &[&str],
    range: Range,
    explain: &str,
) -> usize {
    let k = tx.next_serial();
    tx.bind(&format!("from_{k}"), db_time(range.from))
        .bind(&format!("to_{k}"), db_time(range.to));
    // Cast ahead of the SELECT: a cast inside the WHERE clause hides the
    // range from the planner (see `RANGE_LETS`).
    tx.push(format!("LET $since_{k} = <datetime>$from_{k}"));
    tx.push(format!("LET $until_{k} = <datetime>$to_{k}"));
    let time = r.time;
    let columns = group
        .iter()
        .map(|&c| match c {
            DAY => format!("time::format({time}, '%Y-%m-%d') AS {DAY}, "),
            c => format!("{c}, "),
        })
        .collect::<String>();
    let figures = r
        .figures
        .iter()
        .map(|(name, aggregate)| format!("{aggregate} AS {name}"))
        .collect::<Vec<_>>()
        .join(", ");
    tx.push(format!(
        "SELECT {columns}{figures} FROM {table} WITH INDEX {time_index}
         WHERE {time} >= $since_{k} AND {time} < $until_{k} {filter}
         {grouping}{explain}",
        table = r.table,
        time_index = r.time_index,
        filter = r.filter,
        grouping = grouping(group),
    ))
}

fn number(v: &Value) -> u64 {
    v.as_u64()
        .or_else(|| v.as_f64().map(|f| f.round().max(0.0) as u64))
        .unwrap_or(0)
}

fn add_rows(totals: &mut Totals, r: &Rollup, group: &[&str], rows: &[Value]) {
    for row in rows {
        let figures: Vec<u64> = r.figures.iter().map(|(n, _)| number(&row[*n])).collect();
        if figures.iter().all(|&n| n == 0) {
            continue;
        }
        let key = group
            .iter()
            .map(|c| row[*c].as_str().map(str::to_string))
            .collect();
        let sum = totals.entry(key).or_insert_with(|| vec![0; figures.len()]);
        for (total, n) in sum.iter_mut().zip(figures) {
            *total += n;
        }
    }
}

/// The same figures from every row of `range` (one GROUP BY over them all,
/// as the reports were computed before the roll-ups): what the roll-ups
/// are checked against.
pub async fn recount(
    ctx: &Ctx,
    rollup: &'static Rollup,
    group: &[&'static str],
    range: Range,
) -> DomainResult<Totals> {
    let mut tx = Transaction::new();
    let select = push_live(&mut tx, rollup, group, range, "");
    let results = tx.commit(&ctx.store).await?;
    let mut totals = Totals::new();
    add_rows(&mut totals, rollup, group, &results.rows(select)?);
    Ok(totals)
}

/// Live leads by (dimension value, status). Without a dimension the value
/// is always `None`; with one, `None` stands for leads without a value.
pub type LeadCounts = BTreeMap<(Option<String>, String), u64>;

fn lead_group(by: Option<Dimension>) -> Vec<&'static str> {
    match by {
        None => vec!["status"],
        Some(d) => vec![d.field(), "status"],
    }
}

fn lead_counts_of(by: Option<Dimension>, totals: Totals) -> LeadCounts {
    totals
        .into_iter()
        .map(|(mut key, figures)| {
            let status = key.pop().flatten().unwrap_or_default();
            let value = if by.is_some() {
                key.pop().flatten()
            } else {
                None
            };
            ((value, status), figures[0])
        })
        .collect()
}

/// The roll-up query for a lead report.
pub fn lead_query(by: Option<Dimension>, range: Range) -> RollupQuery {
    RollupQuery::new(leads(by), &lead_group(by), range)
}

/// Live leads created in `range`, by status and the dimension's value, from
/// the roll-ups and the partial days at the ends.
pub async fn lead_counts(
    ctx: &Ctx,
    by: Option<Dimension>,
    range: Range,
) -> DomainResult<LeadCounts> {
    let totals = lead_query(by, range).run(ctx).await?;
    Ok(lead_counts_of(by, totals))
}

/// `lead_counts` from every lead of the range, for the tests.
pub async fn lead_recount(
    ctx: &Ctx,
    by: Option<Dimension>,
    range: Range,
) -> DomainResult<LeadCounts> {
    let totals = recount(ctx, leads(by), &lead_group(by), range).await?;
    Ok(lead_counts_of(by, totals))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::analytics::contact::ANSWERED_CALLS;

    #[test]
    fn a_reached_call_is_an_answered_one() {
        let reached = CALL_FIGURES[1].1;
        let listed = ANSWERED_CALLS
            .iter()
            .map(|o| format!("'{o}'"))
            .collect::<Vec<_>>()
            .join(", ");
        assert_eq!(reached, format!("count(outcome IN [{listed}])"));
        let migration = include_str!("../../store/migrations/0032_response_rollups.surql");
        assert_eq!(migration.matches(&format!("[{listed}]")).count(), 3);
    }
}
