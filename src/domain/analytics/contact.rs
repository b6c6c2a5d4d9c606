//! How fast and how well reps reach their leads.
//!
//! - Time to first contact: for leads created in the range, the time from
//!   creation to the first logged call or the first follow-up done (done,
//!   no answer or replied). The lead keeps `first_contact_at` and
//!   `first_contact_seconds`, set in the same transaction as the call or
//!   follow-up by a table event (migration 0009), so the report is an
//!   aggregate over the `lead_created_at` index and never a join.
//! - Responses: contact attempts made in the range (calls by `at`,
//!   follow-ups by `done_at`) per rep, and how many reached the person: a
//!   call that connected (connected, interested, not interested, callback)
//!   or a follow-up that was replied to. Counted from the call and
//!   follow-up roll-ups (migration 0032) and the rows of the partial days
//!   at the range's ends, never by walking the range.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::rollup::{self, RollupQuery, Totals};
use super::{in_range, ratio, u, Dimension, Range, FIRST};
use crate::domain::actor::Actor;
use crate::domain::error::DomainResult;
use crate::domain::permissions::Permission;
use crate::domain::Ctx;

/// Call outcomes where someone picked up.
pub const ANSWERED_CALLS: &[&str] = &["connected", "interested", "not_interested", "callback"];

#[derive(Debug, Clone, Serialize)]
pub struct FirstContactStats {
    /// The group's value (owner id, source, ...), or the day (YYYY-MM-DD)
    /// in the daily series; absent for leads without one.
    pub key: Option<String>,
    /// Leads created in the range.
    pub leads: u64,
    /// Of them, contacted so far.
    pub contacted: u64,
    pub contacted_rate: Option<f64>,
    pub median_hours: Option<f64>,
    pub mean_hours: Option<f64>,
    /// Contacted within one hour and within one day of creation.
    pub within_hour: u64,
    pub within_day: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FirstContactReport {
    pub overall: FirstContactStats,
    pub groups: Vec<FirstContactStats>,
    /// By the day the leads were created, oldest first.
    pub per_day: Vec<FirstContactStats>,
}

fn hours(v: &Value) -> Option<f64> {
    v.as_f64().map(|s| s / 3600.0)
}

/// Joins the all-leads counts and the contacted-leads statistics by `key`.
fn stats(all: &[Value], contacted: &[Value], key: &str) -> Vec<FirstContactStats> {
    all.iter()
        .map(|row| {
            let k = row[key].as_str().map(str::to_string);
            let c = contacted
                .iter()
                .find(|r| r[key].as_str() == k.as_deref())
                .cloned()
                .unwrap_or(Value::Null);
            let leads = u(&row["leads"]);
            let n = u(&c["n"]);
            FirstContactStats {
                key: k,
                leads,
                contacted: n,
                contacted_rate: ratio(n, leads),
                median_hours: hours(&c["median"]),
                mean_hours: hours(&c["mean"]),
                within_hour: u(&c["within_hour"]),
                within_day: u(&c["within_day"]),
            }
        })
        .collect()
}

const CONTACT_STATS: &str = "count() AS n, math::median(first_contact_seconds) AS median,
    math::mean(first_contact_seconds) AS mean, count(first_contact_seconds <= 3600) AS within_hour,
    count(first_contact_seconds <= 86400) AS within_day";
const IN_RANGE: &str = "created_at >= $since AND created_at < $until AND deleted_at IS NONE";

pub async fn first_contact(
    ctx: &Ctx,
    actor: &Actor,
    by: Dimension,
    range: Range,
) -> DomainResult<FirstContactReport> {
    actor.require(Permission::AnalyticsRead)?;
    let field = by.field();
    // `field` comes from a closed list, never from input. Each pair counts
    // every lead, then aggregates the contacted ones only (the statistics
    // of an empty set are absent, not zero).
    let sql = in_range(&format!(
        "SELECT count() AS leads FROM lead WHERE {IN_RANGE} GROUP ALL;
         SELECT {CONTACT_STATS} FROM lead WHERE {IN_RANGE} AND first_contact_seconds IS NOT NONE GROUP ALL;
         SELECT {field}, count() AS leads FROM lead WHERE {IN_RANGE} GROUP BY {field};
         SELECT {field}, {CONTACT_STATS} FROM lead WHERE {IN_RANGE} AND first_contact_seconds IS NOT NONE GROUP BY {field};
         SELECT time::format(created_at, '%Y-%m-%d') AS day, count() AS leads FROM lead WHERE {IN_RANGE} GROUP BY day;
         SELECT time::format(created_at, '%Y-%m-%d') AS day, {CONTACT_STATS} FROM lead WHERE {IN_RANGE} AND first_contact_seconds IS NOT NONE GROUP BY day;"
    ));
    let results = ctx.store.run(&sql, range.vars()).await?;
    let rows = |i: usize| results.rows::<Value>(FIRST + i);
    // GROUP ALL rows have no key field, so they pair with each other.
    let overall = stats(&rows(0)?, &rows(1)?, "key")
        .into_iter()
        .next()
        .unwrap_or(FirstContactStats {
            key: None,
            leads: 0,
            contacted: 0,
            contacted_rate: None,
            median_hours: None,
            mean_hours: None,
            within_hour: 0,
            within_day: 0,
        });
    let mut groups = stats(&rows(2)?, &rows(3)?, field);
    groups.sort_by(|a, b| b.leads.cmp(&a.leads).then(a.key.cmp(&b.key)));
    let mut per_day = stats(&rows(4)?, &rows(5)?, "day");
    per_day.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(FirstContactReport {
        overall,
        groups,
        per_day,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct ResponseStats {
    /// The rep (user id), or the day (YYYY-MM-DD) in the daily series.
    pub key: String,
    pub calls: u64,
    pub calls_answered: u64,
    pub follow_ups: u64,
    pub follow_ups_replied: u64,
    /// (answered calls + replied follow-ups) / attempts.
    pub response_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResponseReport {
    pub by_rep: Vec<ResponseStats>,
    pub per_day: Vec<ResponseStats>,
}

/// Response rows from the call and follow-up roll-ups' figures (attempts,
/// reached), joined by their one group value (the rep, or the day); in the
/// order of that value.
pub fn response_rows(calls: Totals, follow_ups: Totals) -> Vec<ResponseStats> {
    let mut by_key: BTreeMap<String, [u64; 4]> = BTreeMap::new();
    for (offset, totals) in [(0, calls), (2, follow_ups)] {
        for (key, f) in totals {
            let Some(key) = key.into_iter().next().flatten() else {
                continue;
            };
            let row = by_key.entry(key).or_default();
            row[offset] += f[0];
            row[offset + 1] += f[1];
        }
    }
    by_key
        .into_iter()
        .map(
            |(key, [calls, answered, follow_ups, replied])| ResponseStats {
                key,
                calls,
                calls_answered: answered,
                follow_ups,
                follow_ups_replied: replied,
                response_rate: ratio(answered + replied, calls + follow_ups),
            },
        )
        .collect()
}

/// The rep-by-rep and day-by-day figures from the roll-ups (see `rollup`).
pub async fn responses(ctx: &Ctx, actor: &Actor, range: Range) -> DomainResult<ResponseReport> {
    actor.require(Permission::AnalyticsRead)?;
    let [calls, follow_ups, calls_per_day, follow_ups_per_day] = rollup::run_together(
        ctx,
        [
            &RollupQuery::new(&rollup::CALLS_BY_REP, &["user"], range),
            &RollupQuery::new(&rollup::FOLLOW_UPS_DONE_BY_REP, &["logged_by"], range),
            &RollupQuery::new(&rollup::CALLS_PER_DAY, &[rollup::DAY], range),
            &RollupQuery::new(&rollup::FOLLOW_UPS_DONE_PER_DAY, &[rollup::DAY], range),
        ],
    )
    .await?;
    Ok(ResponseReport {
        by_rep: response_rows(calls, follow_ups),
        per_day: response_rows(calls_per_day, follow_ups_per_day),
    })
}
