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
use crate::domain::cursor::{self, Page, TimeOrder, MAX_PAGE};
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

/// The order of a lead's calls: newest first, on the `call_lead` index.
const CALL_ORDER: TimeOrder = TimeOrder::newest_first("call", "at");

/// The lead's calls, newest first, a page at a time (`limit` 1 to 200).
pub async fn list(
    ctx: &Ctx,
    actor: &Actor,
    lead_id: &str,
    after: Option<&str>,
    limit: usize,
) -> DomainResult<Page<Call>> {
    let lead = load_visible(ctx, actor, lead_id, false).await?;
    CALL_ORDER
        .page(
            &ctx.store,
            "SELECT *, record::id(id) AS id FROM call",
            &["lead = $lead"],
            json!({"lead": lead.id}),
            after,
            limit,
            |c: &Call| (c.at, &c.id),
        )
        .await
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

/// The two parts of the queue, in the order they are called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QueueGroup {
    /// Leads with a follow-up due now.
    FollowUpDue,
    /// Leads never contacted and with nothing scheduled.
    NeverContacted,
}

impl QueueGroup {
    fn reason(self) -> &'static str {
        match self {
            QueueGroup::FollowUpDue => "follow_up_due",
            QueueGroup::NeverContacted => "never_contacted",
        }
    }

    /// Which leads the group holds. Never-contacted leads are walked on
    /// `lead_fresh_score` from the cursor; due ones are few enough to be
    /// found on `lead_next_follow_up` and ordered.
    fn condition(self) -> &'static str {
        match self {
            QueueGroup::FollowUpDue => {
                "next_follow_up_at IS NOT NONE AND next_follow_up_at <= <datetime>$now"
            }
            QueueGroup::NeverContacted => "last_contacted_at IS NONE AND next_follow_up_at IS NONE",
        }
    }
}

/// The queue's cursor: the group and the `sort_score` of the last lead
/// given out (or passed over) in it.
fn queue_cursor(group: QueueGroup, sort_score: &str) -> String {
    cursor::encode(&format!("{}|{sort_score}", group.reason()))
}

fn parse_queue_cursor(raw: &str) -> DomainResult<(QueueGroup, String)> {
    let key = cursor::decode(raw)?;
    let (group, sort_score) = key.split_once('|').ok_or_else(cursor::not_a_cursor)?;
    let group = match group {
        "follow_up_due" => QueueGroup::FollowUpDue,
        "never_contacted" => QueueGroup::NeverContacted,
        _ => return Err(cursor::not_a_cursor()),
    };
    let well_formed = sort_score.split_once('|').is_some_and(|(score, id)| {
        score.len() == 3
            && score.chars().all(|c| c.is_ascii_digit())
            && !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    });
    if !well_formed {
        return Err(cursor::not_a_cursor());
    }
    Ok((group, sort_score.to_string()))
}

/// Leads read from the store at a time while filling a page of the queue.
const QUEUE_CHUNK: usize = 200;

/// The most leads one page of the queue reads: when that many are outside
/// business hours, the page is short and its cursor continues after them.
const QUEUE_SCAN: usize = 2000;

/// The caller's next leads, a page at a time: due follow-ups first, then
/// never-contacted leads, each group by score (highest first, on the
/// `lead_sort_score` index); only leads where it is business hours now in
/// their own timezone, and not won or lost.
pub async fn queue(
    ctx: &Ctx,
    actor: &Actor,
    after: Option<&str>,
    limit: usize,
) -> DomainResult<Page<QueueEntry>> {
    actor.require(Permission::CallsLog)?;
    let scope = Scope::of(actor)?;
    let limit = limit.clamp(1, MAX_PAGE);
    let (mut group, mut from) = match after {
        Some(raw) => {
            let (group, key) = parse_queue_cursor(raw)?;
            (group, Some(key))
        }
        None => (QueueGroup::FollowUpDue, None),
    };
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
    let open_now = |lead: &Lead| -> Option<String> {
        let tz: chrono_tz::Tz = lead.timezone.as_deref()?.parse().ok()?;
        is_business_hours(now, tz).then(|| now.with_timezone(&tz).format("%a %H:%M").to_string())
    };
    let mut picked: Vec<(QueueGroup, QueueEntry)> = Vec::new();
    let mut scanned = 0;
    let mut next_cursor = None;
    loop {
        let after_cond = if from.is_some() {
            " AND sort_score < $from"
        } else {
            ""
        };
        let sql = format!(
            "{SELECT_LEAD} lead WHERE {}{after_cond} AND deleted_at IS NONE AND timezone IS NOT NONE
                AND status NOT IN $closed{scope_cond} ORDER BY sort_score DESC LIMIT $chunk",
            group.condition()
        );
        let rows: Vec<Lead> = ctx
            .store
            .run(
                &sql,
                json!({"closed": closed, "now": db_time(now), "scope_user": scope.user(),
                       "from": from, "chunk": QUEUE_CHUNK}),
            )
            .await?
            .rows(0)?;
        let group_done = rows.len() < QUEUE_CHUNK;
        scanned += rows.len();
        for lead in rows {
            from = Some(leads::score_key(lead.score, &lead.id));
            if let Some(local_time) = open_now(&lead) {
                picked.push((
                    group,
                    QueueEntry {
                        lead,
                        reason: group.reason().into(),
                        local_time,
                        contacts: Vec::new(),
                    },
                ));
                if picked.len() > limit {
                    break;
                }
            }
        }
        if picked.len() > limit {
            picked.truncate(limit);
            next_cursor = picked
                .last()
                .map(|(g, e)| queue_cursor(*g, &leads::score_key(e.lead.score, &e.lead.id)));
            break;
        }
        if !group_done {
            if scanned >= QUEUE_SCAN {
                next_cursor = from.as_deref().map(|key| queue_cursor(group, key));
                break;
            }
            continue;
        }
        match group {
            QueueGroup::FollowUpDue => {
                group = QueueGroup::NeverContacted;
                from = None;
            }
            QueueGroup::NeverContacted => break,
        }
    }
    let mut entries: Vec<QueueEntry> = picked.into_iter().map(|(_, e)| e).collect();
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
    Ok(Page {
        items: entries,
        next_cursor,
    })
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

    #[test]
    fn a_queue_cursor_gives_back_its_group_and_key_and_nothing_else_is_taken() {
        let raw = queue_cursor(QueueGroup::NeverContacted, "042|abc123");
        assert_eq!(
            parse_queue_cursor(&raw).unwrap(),
            (QueueGroup::NeverContacted, "042|abc123".into())
        );
        for bad in [
            "follow_up_due",
            "follow_up_due|42|abc",
            "somewhere|042|abc",
            "never_contacted|042|",
            "never_contacted|042|a'b",
        ] {
            assert!(parse_queue_cursor(&cursor::encode(bad)).is_err(), "{bad}");
        }
    }
}
