//! Lead counts for a time range without walking every lead in it.
//!
//! The database keeps daily roll-ups of live leads (`lead_day_status` and
//! `lead_day_<dimension>`, migration 0030): table views updated in the same
//! transaction as every change to a lead. A range is answered in two parts:
//! - the whole UTC days inside it, summed from the roll-up rows of those
//!   days (one record-id range scan; a handful of rows a day);
//! - the partial days at its ends, counted from the leads themselves over
//!   the `created_at` index (each less than a day of leads).
//!
//! The answer is the one a GROUP BY over every lead created in the range
//! would give (see `recount`); the tests hold the two together after every
//! kind of change.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde_json::Value;

use super::{in_range, Dimension, Range, FIRST};
use crate::domain::clock::db_time;
use crate::domain::error::DomainResult;
use crate::domain::Ctx;
use crate::store::transaction::Transaction;

/// Live leads by (dimension value, status). Without a dimension the value
/// is always `None`; with one, `None` stands for leads without a value.
pub type LeadCounts = BTreeMap<(Option<String>, String), u64>;

/// How a range is split: whole UTC days from the roll-ups, the rest live.
#[derive(Debug, Clone, PartialEq)]
pub struct DaySplit {
    /// The whole days [first, end) as YYYY-MM-DD, when there are any.
    pub days: Option<(String, String)>,
    /// The parts of the range outside those days, each shorter than a day.
    pub edges: Vec<Range>,
}

fn day_start(t: DateTime<Utc>) -> DateTime<Utc> {
    t.date_naive().and_time(NaiveTime::MIN).and_utc()
}

fn day_key(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

impl DaySplit {
    pub fn of(range: Range) -> DaySplit {
        let floor_from = day_start(range.from);
        // The first midnight at or after `from`, the last at or before `to`.
        let first = if floor_from == range.from {
            floor_from
        } else {
            floor_from + Duration::days(1)
        };
        let end = day_start(range.to);
        if first > end {
            // Inside one day.
            return DaySplit {
                days: None,
                edges: vec![range],
            };
        }
        let mut edges = Vec::new();
        if range.from < first {
            edges.push(Range {
                from: range.from,
                to: first,
            });
        }
        if end < range.to {
            edges.push(Range {
                from: end,
                to: range.to,
            });
        }
        DaySplit {
            days: (first < end).then(|| (day_key(first), day_key(end))),
            edges,
        }
    }
}

/// The roll-up view and lead column for a report: the funnel's counts by
/// status alone, or a breakdown's by one dimension and status.
fn source(by: Option<Dimension>) -> (&'static str, Option<&'static str>) {
    match by {
        None => ("lead_day_status", None),
        Some(d) => (
            match d {
                Dimension::Source => "lead_day_source",
                Dimension::Owner => "lead_day_owner",
                Dimension::Country => "lead_day_country",
                Dimension::Industry => "lead_day_industry",
            },
            Some(d.field()),
        ),
    }
}

/// The statements that count a range's leads: one SELECT over the roll-up
/// rows of its whole days and one over the leads of each partial day, read
/// in one transaction so they see the same moment.
pub struct CountsQuery {
    by: Option<Dimension>,
    split: DaySplit,
}

impl CountsQuery {
    pub fn new(by: Option<Dimension>, range: Range) -> CountsQuery {
        CountsQuery {
            by,
            split: DaySplit::of(range),
        }
    }

    pub fn split(&self) -> &DaySplit {
        &self.split
    }

    /// The batch, and the result index of each SELECT. With `explain`, each
    /// SELECT answers its plan instead of its rows.
    pub fn transaction(&self, explain: bool) -> (Transaction, Vec<usize>) {
        let (view, column) = source(self.by);
        // Table and column names come from the closed list above.
        let group = match column {
            Some(c) => format!("{c}, status"),
            None => "status".to_string(),
        };
        let explain = if explain { " EXPLAIN" } else { "" };
        let mut tx = Transaction::new();
        let mut selects = Vec::new();
        if let Some((first, end)) = &self.split.days {
            tx.bind("first_day", first).bind("end_day", end);
            selects.push(tx.push(format!(
                "SELECT {group}, math::sum(leads) AS n FROM {view}:[$first_day]..[$end_day] GROUP BY {group}{explain}"
            )));
        }
        for (i, edge) in self.split.edges.iter().enumerate() {
            tx.bind(&format!("from_{i}"), db_time(edge.from))
                .bind(&format!("to_{i}"), db_time(edge.to));
            // Cast ahead of the SELECT: a cast inside the WHERE clause
            // hides the range from the planner (see `RANGE_LETS`).
            tx.push(format!("LET $since_{i} = <datetime>$from_{i}"));
            tx.push(format!("LET $until_{i} = <datetime>$to_{i}"));
            selects.push(tx.push(format!(
                "SELECT {group}, count() AS n FROM lead
                 WHERE created_at >= $since_{i} AND created_at < $until_{i} AND deleted_at IS NONE
                 GROUP BY {group}{explain}"
            )));
        }
        (tx, selects)
    }

    pub async fn run(&self, ctx: &Ctx) -> DomainResult<LeadCounts> {
        let (tx, selects) = self.transaction(false);
        let results = tx.commit(&ctx.store).await?;
        let (_, column) = source(self.by);
        let mut counts = LeadCounts::new();
        for i in selects {
            add_rows(&mut counts, column, &results.rows(i)?);
        }
        Ok(counts)
    }
}

fn add_rows(counts: &mut LeadCounts, column: Option<&str>, rows: &[Value]) {
    for r in rows {
        let key = column.and_then(|c| r[c].as_str()).map(str::to_string);
        let status = r["status"].as_str().unwrap_or_default().to_string();
        let n = r["n"]
            .as_u64()
            .or_else(|| r["n"].as_f64().map(|f| f as u64))
            .unwrap_or(0);
        if n > 0 {
            *counts.entry((key, status)).or_default() += n;
        }
    }
}

/// Live leads created in `range`, by status and the dimension's value, from
/// the roll-ups and the partial days at the ends.
pub async fn lead_counts(
    ctx: &Ctx,
    by: Option<Dimension>,
    range: Range,
) -> DomainResult<LeadCounts> {
    CountsQuery::new(by, range).run(ctx).await
}

/// The same counts from every lead created in `range` (a GROUP BY over
/// them all, as the reports were computed before the roll-ups): what the
/// roll-ups are checked against.
pub async fn recount(ctx: &Ctx, by: Option<Dimension>, range: Range) -> DomainResult<LeadCounts> {
    let (_, column) = source(by);
    let group = match column {
        Some(c) => format!("{c}, status"),
        None => "status".to_string(),
    };
    let rows: Vec<Value> = ctx
        .store
        .run(
            &in_range(&format!(
                "SELECT {group}, count() AS n FROM lead
                 WHERE created_at >= $since AND created_at < $until AND deleted_at IS NONE
                 GROUP BY {group}"
            )),
            range.vars(),
        )
        .await?
        .rows(FIRST)?;
    let mut counts = LeadCounts::new();
    add_rows(&mut counts, column, &rows);
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn range(from: &str, to: &str) -> Range {
        Range {
            from: at(from),
            to: at(to),
        }
    }

    #[test]
    fn a_range_of_whole_days_reads_only_roll_ups() {
        let split = DaySplit::of(range("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"));
        assert_eq!(
            split.days,
            Some(("2026-01-01".to_string(), "2026-02-01".to_string()))
        );
        assert!(split.edges.is_empty());
    }

    #[test]
    fn the_partial_days_at_both_ends_are_counted_live() {
        let split = DaySplit::of(range("2025-12-01T14:30:00Z", "2026-12-01T09:15:00Z"));
        assert_eq!(
            split.days,
            Some(("2025-12-02".to_string(), "2026-12-01".to_string()))
        );
        assert_eq!(
            split.edges,
            vec![
                range("2025-12-01T14:30:00Z", "2025-12-02T00:00:00Z"),
                range("2026-12-01T00:00:00Z", "2026-12-01T09:15:00Z"),
            ]
        );
    }

    #[test]
    fn a_range_across_one_midnight_has_no_whole_day() {
        let split = DaySplit::of(range("2026-03-01T20:00:00Z", "2026-03-02T04:00:00Z"));
        assert_eq!(split.days, None);
        assert_eq!(
            split.edges,
            vec![
                range("2026-03-01T20:00:00Z", "2026-03-02T00:00:00Z"),
                range("2026-03-02T00:00:00Z", "2026-03-02T04:00:00Z"),
            ]
        );
    }

    #[test]
    fn a_range_inside_one_day_is_counted_live_whole() {
        let r = range("2026-03-01T08:00:00Z", "2026-03-01T09:00:00Z");
        let split = DaySplit::of(r);
        assert_eq!(split.days, None);
        assert_eq!(split.edges, vec![r]);
    }

    #[test]
    fn every_edge_is_shorter_than_a_day_and_the_parts_cover_the_range() {
        let from = at("2026-05-05T13:07:11Z");
        for hours in [1, 11, 23, 24, 25, 47, 48, 49, 24 * 365 + 5] {
            let r = Range {
                from,
                to: from + Duration::hours(hours),
            };
            let split = DaySplit::of(r);
            let mut covered = Duration::zero();
            for e in &split.edges {
                assert!(e.to - e.from < Duration::days(1), "{hours}h: {e:?}");
                covered += e.to - e.from;
            }
            if let Some((first, end)) = &split.days {
                let first: chrono::NaiveDate = first.parse().unwrap();
                let end: chrono::NaiveDate = end.parse().unwrap();
                covered += end - first;
            }
            assert_eq!(covered, r.to - r.from, "{hours}h");
        }
    }
}
