//! Productivity patterns: the hours and weekdays, on the lead's own clock,
//! when calls and follow-ups most often reach someone, by timezone and
//! industry; and each rep's activity pattern. Read-only statistics over
//! the call and follow-up history.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::actor::Actor;
use crate::domain::crm::leads::Scope;
use crate::domain::error::DomainResult;
use crate::domain::features::{self, Feature};
use crate::domain::permissions::Permission;
use crate::domain::Ctx;

/// One call or follow-up, with what the lead's clock said.
#[derive(Debug, Clone, Deserialize)]
pub struct Touch {
    pub at: DateTime<Utc>,
    pub outcome: String,
    pub user: String,
    pub timezone: Option<String>,
    pub industry: Option<String>,
}

const REACHED: &[&str] = &[
    "connected",
    "interested",
    "callback",
    "not_interested",
    "replied",
    "done",
];

/// Slots with fewer attempts than this are listed but never called "best".
pub const MIN_ATTEMPTS: u32 = 3;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slot {
    /// Hour 0–23, or weekday 1 (Monday) – 7.
    pub slot: u32,
    pub attempts: u32,
    pub reached: u32,
    pub reach_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepPattern {
    pub user: String,
    pub activities: u32,
    pub reach_rate: f64,
    /// The hour (UTC) this rep logs most activity.
    pub busiest_hour_utc: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Patterns {
    pub touches: u32,
    /// Best first: by reach rate among slots with enough attempts.
    pub best_hours: Vec<Slot>,
    pub best_days: Vec<Slot>,
    pub reps: Vec<RepPattern>,
}

fn local(t: &Touch) -> DateTime<chrono_tz::Tz> {
    let tz = t
        .timezone
        .as_deref()
        .and_then(|z| z.parse::<chrono_tz::Tz>().ok())
        .unwrap_or(chrono_tz::UTC);
    t.at.with_timezone(&tz)
}

fn ranked(counts: BTreeMap<u32, (u32, u32)>) -> Vec<Slot> {
    let mut slots: Vec<Slot> = counts
        .into_iter()
        .map(|(slot, (attempts, reached))| Slot {
            slot,
            attempts,
            reached,
            reach_rate: (reached as f64 / attempts as f64 * 100.0).round() / 100.0,
        })
        .collect();
    slots.sort_by(|a, b| {
        (b.attempts >= MIN_ATTEMPTS)
            .cmp(&(a.attempts >= MIN_ATTEMPTS))
            .then(b.reach_rate.total_cmp(&a.reach_rate))
            .then(b.attempts.cmp(&a.attempts))
            .then(a.slot.cmp(&b.slot))
    });
    slots
}

/// The pure rule over a set of touches.
pub fn analyse(touches: &[Touch]) -> Patterns {
    let mut hours: BTreeMap<u32, (u32, u32)> = BTreeMap::new();
    let mut days: BTreeMap<u32, (u32, u32)> = BTreeMap::new();
    let mut reps: BTreeMap<String, (u32, u32, BTreeMap<u32, u32>)> = BTreeMap::new();
    for t in touches {
        let reached = REACHED.contains(&t.outcome.as_str()) as u32;
        let at = local(t);
        let h = hours.entry(at.hour()).or_default();
        h.0 += 1;
        h.1 += reached;
        let d = days.entry(at.weekday().number_from_monday()).or_default();
        d.0 += 1;
        d.1 += reached;
        let r = reps.entry(t.user.clone()).or_default();
        r.0 += 1;
        r.1 += reached;
        *r.2.entry(t.at.hour()).or_default() += 1;
    }
    Patterns {
        touches: touches.len() as u32,
        best_hours: ranked(hours),
        best_days: ranked(days),
        reps: reps
            .into_iter()
            .map(|(user, (n, reached, by_hour))| RepPattern {
                user,
                activities: n,
                reach_rate: (reached as f64 / n as f64 * 100.0).round() / 100.0,
                busiest_hour_utc: by_hour
                    .iter()
                    .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                    .map(|(h, _)| *h)
                    .unwrap_or_default(),
            })
            .collect(),
    }
}

/// Patterns over the leads the actor can see, optionally one industry's
/// or one timezone's.
pub async fn patterns(
    ctx: &Ctx,
    actor: &Actor,
    industry: Option<&str>,
    timezone: Option<&str>,
) -> DomainResult<Patterns> {
    actor.require(Permission::AiUse)?;
    features::require(ctx, Feature::Patterns)?;
    let scope = Scope::of(actor)?;
    let mut conditions = vec!["deleted_at IS NONE".to_string()];
    conditions.extend(scope.condition().map(str::to_string));
    if industry.is_some() {
        conditions.push("string::lowercase(industry ?? '') = string::lowercase($industry)".into());
    }
    if timezone.is_some() {
        conditions.push("timezone = $timezone".into());
    }
    let sql = format!(
        "LET $leads = (SELECT record::id(id) AS id, timezone, industry FROM lead WHERE {});
         LET $ids = $leads.id;
         RETURN (SELECT at, outcome, user, lead FROM call WHERE lead IN $ids);
         RETURN (SELECT at, outcome, by AS user, lead FROM follow_up_history WHERE lead IN $ids AND outcome != 'pending');
         RETURN $leads;",
        conditions.join(" AND ")
    );
    let results = ctx
        .store
        .run(
            &sql,
            json!({"scope_user": scope.user(), "industry": industry, "timezone": timezone}),
        )
        .await?;
    #[derive(Deserialize)]
    struct Raw {
        at: DateTime<Utc>,
        outcome: String,
        user: String,
        lead: String,
    }
    #[derive(Deserialize)]
    struct LeadInfo {
        id: String,
        timezone: Option<String>,
        industry: Option<String>,
    }
    let mut raw: Vec<Raw> = results.rows(2)?;
    raw.extend(results.rows::<Raw>(3)?);
    let leads: BTreeMap<String, LeadInfo> = results
        .rows::<LeadInfo>(4)?
        .into_iter()
        .map(|l| (l.id.clone(), l))
        .collect();
    let touches: Vec<Touch> = raw
        .into_iter()
        .map(|r| {
            let lead = leads.get(&r.lead);
            Touch {
                at: r.at,
                outcome: r.outcome,
                user: r.user,
                timezone: lead.and_then(|l| l.timezone.clone()),
                industry: lead.and_then(|l| l.industry.clone()),
            }
        })
        .collect();
    Ok(analyse(&touches))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn touch(day: u32, hour_utc: u32, outcome: &str, tz: &str) -> Touch {
        Touch {
            at: Utc.with_ymd_and_hms(2026, 3, day, hour_utc, 15, 0).unwrap(),
            outcome: outcome.into(),
            user: "maria".into(),
            timezone: Some(tz.into()),
            industry: None,
        }
    }

    #[test]
    fn the_best_calling_hour_is_read_on_the_leads_clock() {
        // Berlin is UTC+1 in early March: 09:15 UTC is 10:15 there.
        let mut touches = Vec::new();
        for day in 2..=5 {
            touches.push(touch(day, 9, "connected", "Europe/Berlin"));
            touches.push(touch(day, 14, "no_answer", "Europe/Berlin"));
        }
        touches.push(touch(6, 14, "connected", "Europe/Berlin"));
        // One lucky call at 07:00 local is too few attempts to be "best".
        touches.push(touch(6, 6, "connected", "Europe/Berlin"));
        let p = analyse(&touches);
        assert_eq!(p.best_hours[0].slot, 10);
        assert_eq!(p.best_hours[0].reach_rate, 1.0);
        assert_eq!(p.best_hours[1].slot, 15);
        assert_eq!(p.reps[0].activities, 10);
        assert_eq!(p.reps[0].busiest_hour_utc, 14);
    }
}
