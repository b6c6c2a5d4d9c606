//! Calls: the log on a lead and the caller's "next to call" queue, which
//! only offers leads where it is business hours in the lead's own timezone.

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::leads::{self, load_visible, Lead, Scope, SELECT_LEAD};
use super::outgoing::Outgoing;
use super::{contacts, pipeline};
use crate::domain::actor::Actor;
use crate::domain::audit::{self, FieldChange};
use crate::domain::clock::db_time;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::events::Event;
use crate::domain::permissions::Permission;
use crate::domain::{tokens, Ctx};
use crate::store::Transaction;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Call {
    pub id: String,
    pub lead: String,
    pub user: String,
    pub user_name: String,
    pub outcome: String,
    pub duration_seconds: i64,
    #[serde(default)]
    pub notes: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct NewCall {
    pub outcome: String,
    pub duration_seconds: Option<i64>,
    pub notes: Option<String>,
    pub at: Option<DateTime<Utc>>,
}

/// Outcomes a call can have.
pub const CALL_OUTCOMES: &[&str] = &[
    "connected",
    "no_answer",
    "voicemail",
    "busy",
    "wrong_number",
    "interested",
    "not_interested",
    "callback",
];

pub async fn log(ctx: &Ctx, actor: &Actor, lead_id: &str, input: NewCall) -> DomainResult<Call> {
    actor.require(Permission::CallsLog)?;
    let lead = load_visible(ctx, actor, lead_id, false).await?;
    let outcome = input
        .outcome
        .trim()
        .to_ascii_lowercase()
        .replace([' ', '-'], "_");
    if !CALL_OUTCOMES.contains(&outcome.as_str()) {
        return Err(DomainError::invalid(
            "outcome",
            format!("use one of {}", CALL_OUTCOMES.join(", ")),
        ));
    }
    let duration = input.duration_seconds.unwrap_or(0);
    if !(0..=24 * 3600).contains(&duration) {
        return Err(DomainError::invalid(
            "duration_seconds",
            "must be between 0 and 86400",
        ));
    }
    let notes = input.notes.unwrap_or_default().trim().to_string();
    if notes.chars().count() > 5000 {
        return Err(DomainError::invalid(
            "notes",
            "must be at most 5000 characters",
        ));
    }
    let now = ctx.now();
    let at = input.at.unwrap_or(now);
    if at > now + chrono::Duration::minutes(5) {
        return Err(DomainError::invalid("at", "cannot be in the future"));
    }
    let call = Call {
        id: tokens::new_id(),
        lead: lead.id.clone(),
        user: actor.user_id.clone(),
        user_name: actor.username.clone(),
        outcome,
        duration_seconds: duration,
        notes,
        at,
    };
    let mut tx = Transaction::new();
    tx.bind("call", &call).bind("call_at", db_time(at));
    tx.push(
        "CREATE type::record('call', $call.id) SET lead = $call.lead, user = $call.user, user_name = $call.user_name,
            outcome = $call.outcome, duration_seconds = $call.duration_seconds, notes = $call.notes, at = <datetime>$call_at",
    );
    let changes = [
        FieldChange::new("outcome", None, Some(json!(call.outcome))),
        FieldChange::new("duration_seconds", None, Some(json!(call.duration_seconds))),
    ];
    audit::record_about(
        &mut tx,
        actor,
        Some(&lead.id),
        "call",
        &call.id,
        "create",
        &changes,
        now,
    );
    let mut lead_after = lead.clone();
    lead_after.last_contacted_at = Some(at).max(lead.last_contacted_at);
    if lead_after != lead {
        lead_after.updated_at = now;
        let names = contacts::search_names_of(ctx, &lead.id).await?;
        leads::push_update(&mut tx, &lead, &lead_after, &names);
    }
    let mut out = Outgoing::new();
    out.add(Event::new(
        "call.logged",
        leads::audience(&lead_after),
        json!({"call": call, "lead": lead_after, "via": actor.channel}),
    ));
    out.commit(ctx, tx).await?;
    Ok(call)
}

pub async fn list(ctx: &Ctx, actor: &Actor, lead_id: &str) -> DomainResult<Vec<Call>> {
    let lead = load_visible(ctx, actor, lead_id, false).await?;
    Ok(ctx
        .store
        .run(
            "SELECT *, record::id(id) AS id FROM call WHERE lead = $lead ORDER BY at DESC LIMIT 500",
            json!({"lead": lead.id}),
        )
        .await?
        .rows(0)?)
}

/// Local business hours: Monday to Friday, 09:00 to 17:00.
const OPENS: u32 = 9;
const CLOSES: u32 = 17;

pub fn is_business_hours(now: DateTime<Utc>, tz: chrono_tz::Tz) -> bool {
    let local = now.with_timezone(&tz);
    let weekday = !matches!(local.weekday(), Weekday::Sat | Weekday::Sun);
    weekday && (OPENS..CLOSES).contains(&local.hour())
}

#[derive(Debug, Clone, Serialize)]
pub struct QueueEntry {
    pub lead: Lead,
    /// Why the lead is in the queue: `follow_up_due` or `never_contacted`.
    pub reason: String,
    pub local_time: String,
    /// The lead's contacts, oldest first: the numbers to call.
    pub contacts: Vec<contacts::Contact>,
}

/// The caller's next leads: due follow-ups first (longest overdue first),
/// then never-contacted leads, each group by score; only leads where it is
/// business hours now in their own timezone, and not won or lost.
pub async fn queue(ctx: &Ctx, actor: &Actor, limit: usize) -> DomainResult<Vec<QueueEntry>> {
    actor.require(Permission::CallsLog)?;
    let scope = Scope::of(actor)?;
    let now = ctx.now();
    let closed: Vec<String> = pipeline::list_all(ctx)
        .await?
        .into_iter()
        .filter(|s| s.is_won || s.is_lost)
        .map(|s| s.id)
        .collect();
    let scope_cond = scope
        .condition()
        .map(|c| format!(" AND {c}"))
        .unwrap_or_default();
    let sql = format!(
        "{SELECT_LEAD} lead WHERE deleted_at IS NONE AND timezone IS NOT NONE AND status NOT IN $closed{scope_cond}
            AND next_follow_up_at IS NOT NONE AND next_follow_up_at <= <datetime>$now ORDER BY next_follow_up_at ASC LIMIT 2000;
         {SELECT_LEAD} lead WHERE deleted_at IS NONE AND timezone IS NOT NONE AND status NOT IN $closed{scope_cond}
            AND last_contacted_at IS NONE AND next_follow_up_at IS NONE ORDER BY sort_score DESC LIMIT 2000;"
    );
    let results = ctx
        .store
        .run(
            &sql,
            json!({"closed": closed, "now": db_time(now), "scope_user": scope.user()}),
        )
        .await?;
    let open_now = |lead: &Lead| -> Option<String> {
        let tz: chrono_tz::Tz = lead.timezone.as_deref()?.parse().ok()?;
        is_business_hours(now, tz).then(|| now.with_timezone(&tz).format("%a %H:%M").to_string())
    };
    let mut due: Vec<(Lead, String)> = results
        .rows::<Lead>(0)?
        .into_iter()
        .filter_map(|l| open_now(&l).map(|t| (l, t)))
        .collect();
    due.sort_by(|(a, _), (b, _)| {
        b.score
            .cmp(&a.score)
            .then(a.next_follow_up_at.cmp(&b.next_follow_up_at))
    });
    let fresh: Vec<(Lead, String)> = results
        .rows::<Lead>(1)?
        .into_iter()
        .filter_map(|l| open_now(&l).map(|t| (l, t)))
        .collect();
    let mut entries: Vec<QueueEntry> = due
        .into_iter()
        .map(|(lead, local_time)| QueueEntry {
            lead,
            reason: "follow_up_due".into(),
            local_time,
            contacts: Vec::new(),
        })
        .chain(fresh.into_iter().map(|(lead, local_time)| QueueEntry {
            lead,
            reason: "never_contacted".into(),
            local_time,
            contacts: Vec::new(),
        }))
        .take(limit.clamp(1, 200))
        .collect();
    // The phones come with the queue: one lookup for all its leads.
    let ids: Vec<&str> = entries.iter().map(|e| e.lead.id.as_str()).collect();
    let all: Vec<contacts::Contact> = crate::store::lookups::rows_for_all(
        &ctx.store,
        "SELECT *, record::id(id) AS id FROM contact WHERE lead IN $list ORDER BY created_at, id",
        &ids,
    )
    .await?;
    for contact in all {
        if let Some(e) = entries.iter_mut().find(|e| e.lead.id == contact.lead) {
            e.contacts.push(contact);
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_hours_are_weekdays_nine_to_five_local() {
        let tokyo: chrono_tz::Tz = "Asia/Tokyo".parse().unwrap();
        let ny: chrono_tz::Tz = "America/New_York".parse().unwrap();
        // Tuesday 01:00 UTC: 10:00 in Tokyo, Monday 20:00 in New York.
        let t: DateTime<Utc> = "2026-12-01T01:00:00Z".parse().unwrap();
        assert!(is_business_hours(t, tokyo));
        assert!(!is_business_hours(t, ny));
        // Saturday noon in Tokyo.
        let sat: DateTime<Utc> = "2026-12-05T03:00:00Z".parse().unwrap();
        assert!(!is_business_hours(sat, tokyo));
    }
}
