//! The three-tier follow-up system: each lead has follow-ups 1, 2 and 3,
//! each scheduled, done, with an outcome and notes; every change is kept in
//! the history; after the third without a reply a configurable rule moves
//! the lead on.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::leads::{self, load_visible, Lead, Scope};
use super::outgoing::Outgoing;
use super::query::{actor_timezone, FollowUpDue};
use super::{contacts, pipeline, settings};
use crate::domain::actor::Actor;
use crate::domain::audit::{self, FieldChange};
use crate::domain::clock::db_time;
use crate::domain::cursor::{self, Page, TimeOrder, MAX_PAGE};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::events::Event;
use crate::domain::permissions::Permission;
use crate::domain::Ctx;
use crate::store::Transaction;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pending,
    Done,
    NoAnswer,
    Replied,
    Skipped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pending => "pending",
            Outcome::Done => "done",
            Outcome::NoAnswer => "no_answer",
            Outcome::Replied => "replied",
            Outcome::Skipped => "skipped",
        }
    }

    /// Whether the lead was actually reached or tried.
    fn is_contact(self) -> bool {
        matches!(self, Outcome::Done | Outcome::NoAnswer | Outcome::Replied)
    }
}

impl FromStr for Outcome {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace([' ', '-'], "_")
            .as_str()
        {
            "pending" => Ok(Outcome::Pending),
            "done" => Ok(Outcome::Done),
            "no_answer" | "noanswer" => Ok(Outcome::NoAnswer),
            "replied" => Ok(Outcome::Replied),
            "skipped" => Ok(Outcome::Skipped),
            _ => Err(DomainError::invalid(
                "outcome",
                "use pending, done, no_answer, replied or skipped",
            )),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FollowUp {
    pub lead: String,
    pub tier: u8,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub done_at: Option<DateTime<Utc>>,
    pub outcome: Outcome,
    #[serde(default)]
    pub notes: String,
    pub logged_by: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl FollowUp {
    fn empty(lead: &str, tier: u8) -> Self {
        FollowUp {
            lead: lead.to_string(),
            tier,
            scheduled_at: None,
            done_at: None,
            outcome: Outcome::Pending,
            notes: String::new(),
            logged_by: None,
            updated_at: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub tier: u8,
    pub outcome: Outcome,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub done_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub notes: String,
    pub by: String,
    pub by_name: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FollowUps {
    /// Always three, tiers 1 to 3; unlogged tiers are pending and unscheduled.
    pub tiers: Vec<FollowUp>,
    pub history: Vec<HistoryEntry>,
}

async fn tiers_of(ctx: &Ctx, lead: &str) -> DomainResult<Vec<FollowUp>> {
    let stored: Vec<FollowUp> = ctx
        .store
        .run(
            "SELECT * FROM follow_up WHERE lead = $lead ORDER BY tier",
            json!({"lead": lead}),
        )
        .await?
        .rows(0)?;
    Ok((1..=3)
        .map(|tier| {
            stored
                .iter()
                .find(|f| f.tier == tier)
                .cloned()
                .unwrap_or_else(|| FollowUp::empty(lead, tier))
        })
        .collect())
}

pub async fn get(ctx: &Ctx, actor: &Actor, lead_id: &str) -> DomainResult<FollowUps> {
    let lead = load_visible(ctx, actor, lead_id, false).await?;
    let history = ctx
        .store
        .run(
            "SELECT * FROM follow_up_history WHERE lead = $lead ORDER BY at DESC LIMIT 500",
            json!({"lead": lead.id}),
        )
        .await?
        .rows(0)?;
    Ok(FollowUps {
        tiers: tiers_of(ctx, &lead.id).await?,
        history,
    })
}

#[derive(Debug, Clone, Default)]
pub struct FollowUpInput {
    pub outcome: Option<String>,
    /// `Some(None)` clears the schedule.
    pub scheduled_at: Option<Option<DateTime<Utc>>>,
    pub done_at: Option<DateTime<Utc>>,
    pub notes: Option<String>,
}

/// Logs or schedules follow-up `tier` of a lead.
pub async fn log(
    ctx: &Ctx,
    actor: &Actor,
    lead_id: &str,
    tier: u8,
    input: FollowUpInput,
) -> DomainResult<FollowUps> {
    actor.require_any(&[Permission::LeadsWrite, Permission::CallsLog])?;
    if !(1..=3).contains(&tier) {
        return Err(DomainError::invalid("tier", "must be 1, 2 or 3"));
    }
    let lead = load_visible(ctx, actor, lead_id, false).await?;
    let now = ctx.now();
    let tiers = tiers_of(ctx, &lead.id).await?;
    let before = tiers[(tier - 1) as usize].clone();
    let outcome = match &input.outcome {
        Some(o) => o.parse::<Outcome>()?,
        None => before.outcome,
    };
    let notes = match &input.notes {
        Some(n) if n.chars().count() > 5000 => {
            return Err(DomainError::invalid(
                "notes",
                "must be at most 5000 characters",
            ))
        }
        Some(n) => n.trim().to_string(),
        None => before.notes.clone(),
    };
    let scheduled_at = input.scheduled_at.unwrap_or(before.scheduled_at);
    let done_at = match outcome {
        Outcome::Pending => None,
        _ => Some(input.done_at.or(before.done_at).unwrap_or(now)),
    };
    if done_at.is_some_and(|d| d > now + chrono::Duration::minutes(5)) {
        return Err(DomainError::invalid("done_at", "cannot be in the future"));
    }
    let after = FollowUp {
        lead: lead.id.clone(),
        tier,
        scheduled_at,
        done_at,
        outcome,
        notes,
        logged_by: Some(actor.user_id.clone()),
        updated_at: Some(now),
    };
    let mut all = tiers.clone();
    all[(tier - 1) as usize] = after.clone();

    // What the lead learns from its follow-ups.
    let mut lead_after = lead.clone();
    lead_after.next_follow_up_at = all
        .iter()
        .filter(|f| f.outcome == Outcome::Pending)
        .filter_map(|f| f.scheduled_at)
        .min();
    if outcome.is_contact() {
        lead_after.last_contacted_at = done_at.max(lead.last_contacted_at);
    }
    let rule_applied = apply_after_third_rule(ctx, &all, &mut lead_after).await?;

    let mut tx = Transaction::new();
    tx.bind("fu_id", format!("{}_{tier}", lead.id))
        .bind(
            "fu",
            json!({
                "lead": lead.id, "tier": tier, "outcome": outcome.as_str(), "notes": after.notes,
                "scheduled_at": scheduled_at.map(db_time), "done_at": done_at.map(db_time),
                "by": actor.user_id, "by_name": actor.username, "owner": lead.owner,
            }),
        )
        .bind("now", db_time(now));
    tx.push(
        "UPSERT type::record('follow_up', $fu_id) SET lead = $fu.lead, tier = $fu.tier, outcome = $fu.outcome,
            notes = $fu.notes, logged_by = $fu.by, owner = $fu.owner, updated_at = <datetime>$now,
            scheduled_at = IF $fu.scheduled_at THEN <datetime>$fu.scheduled_at ELSE NONE END,
            done_at = IF $fu.done_at THEN <datetime>$fu.done_at ELSE NONE END",
    );
    tx.push(
        "CREATE follow_up_history SET lead = $fu.lead, tier = $fu.tier, outcome = $fu.outcome, notes = $fu.notes,
            by = $fu.by, by_name = $fu.by_name, at = <datetime>$now,
            scheduled_at = IF $fu.scheduled_at THEN <datetime>$fu.scheduled_at ELSE NONE END,
            done_at = IF $fu.done_at THEN <datetime>$fu.done_at ELSE NONE END",
    );
    let view = |f: &FollowUp| json!({"outcome": f.outcome.as_str(), "scheduled_at": f.scheduled_at, "done_at": f.done_at, "notes": f.notes});
    let changes = audit::diff(&view(&before), &view(&after), &[]);
    audit::record_about(
        &mut tx,
        actor,
        Some(&lead.id),
        "follow_up",
        &format!("{}_{tier}", lead.id),
        "log",
        &changes,
        now,
    );
    if lead_after != lead {
        lead_after.updated_at = now;
        let names = contacts::search_names_of(ctx, &lead.id).await?;
        leads::push_update(&mut tx, &lead, &lead_after, &names);
        if lead_after.status != lead.status {
            let change = [FieldChange::new(
                "status",
                Some(json!(lead.status)),
                Some(json!(lead_after.status)),
            )];
            audit::record_about(
                &mut tx,
                actor,
                Some(&lead.id),
                "lead",
                &lead.id,
                "after_third_follow_up",
                &change,
                now,
            );
        }
    }
    let mut out = Outgoing::new();
    out.add(Event::new(
        "follow_up.logged",
        leads::audience(&lead_after),
        json!({"lead": lead_after, "follow_up": after, "via": actor.channel}),
    ));
    if rule_applied {
        out.add(Event::new(
            "lead.status_changed",
            leads::audience(&lead_after),
            json!({"lead": lead_after, "from": lead.status, "to": lead_after.status, "via": "after_third_follow_up"}),
        ));
    }
    out.commit(ctx, tx).await?;
    get(ctx, actor, &lead.id).await
}

/// The third follow-up ended without a reply (and none of the three got
/// one): the configured status takes over, unless the lead is already won
/// or lost. Returns whether it applied.
async fn apply_after_third_rule(
    ctx: &Ctx,
    tiers: &[FollowUp],
    lead: &mut Lead,
) -> DomainResult<bool> {
    let third = &tiers[2];
    let ended_unanswered = matches!(
        third.outcome,
        Outcome::NoAnswer | Outcome::Done | Outcome::Skipped
    );
    let anyone_replied = tiers.iter().any(|f| f.outcome == Outcome::Replied);
    if !ended_unanswered || anyone_replied {
        return Ok(false);
    }
    let rule = settings::after_third_rule(ctx).await?;
    if !rule.enabled || lead.status == rule.status {
        return Ok(false);
    }
    if let Some(current) = pipeline::find(ctx, &lead.status).await? {
        if current.is_won || current.is_lost {
            return Ok(false);
        }
    }
    lead.status = rule.status;
    Ok(true)
}

/// Whose follow-ups a due view lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DueScope {
    Mine,
    /// Everyone's the actor may see.
    Team,
    /// One user's (managers looking at a rep).
    User(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct DueFollowUp {
    /// The follow-up's own id (its lead and tier).
    pub id: String,
    pub lead_id: String,
    pub company_name: String,
    pub owner: Option<String>,
    pub tier: u8,
    pub scheduled_at: DateTime<Utc>,
    pub notes: String,
}

/// Which due follow-ups a list shows, and which page of them.
#[derive(Debug, Clone)]
pub struct DueQuery {
    pub view: FollowUpDue,
    pub who: DueScope,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
    /// 1 to 200.
    pub limit: usize,
}

/// The order of the due list: soonest first, on the `follow_up_pending`
/// index (`follow_up_owner_pending` for one person's).
const DUE_ORDER: TimeOrder = TimeOrder::oldest_first("follow_up", "scheduled_at");

/// Pending follow-ups due today, overdue, or this week, in the actor's
/// timezone, oldest first, a page at a time; only those of leads the
/// actor may see and that are not deleted.
pub async fn due(ctx: &Ctx, actor: &Actor, query: DueQuery) -> DomainResult<Page<DueFollowUp>> {
    let scope = Scope::of(actor)?;
    let tz = actor_timezone(ctx, actor).await?;
    let (from, to) = query.view.window(ctx.now(), tz);
    let owner = match (&query.who, &scope) {
        (DueScope::Mine, _) => Some(actor.user_id.clone()),
        (DueScope::User(u), Scope::All) => Some(u.clone()),
        (DueScope::User(u), Scope::Own(me)) if u == me => Some(me.clone()),
        (DueScope::User(_), Scope::Own(_)) => {
            return Err(DomainError::Forbidden(
                Permission::LeadsReadAll.key().into(),
            ))
        }
        (DueScope::Team, _) => None,
    };
    let limit = query.limit.clamp(1, MAX_PAGE);
    let bound = DUE_ORDER.after(query.after.as_deref())?;
    let mut conds = vec![
        "outcome = 'pending'",
        "scheduled_at IS NOT NONE",
        "scheduled_at < <datetime>$to",
        // A deleted lead's follow-ups are not work; one's own scope sees
        // the leads one owns or created.
        "type::record('lead', lead).deleted_at IS NONE",
    ];
    if from.is_some() {
        conds.push("scheduled_at >= <datetime>$from");
    }
    if owner.is_some() {
        conds.push("owner = $owner");
    }
    if let Scope::Own(_) = scope {
        conds.push(
            "(type::record('lead', lead).owner = $me OR type::record('lead', lead).created_by = $me)",
        );
    }
    let sql = format!(
        "{}SELECT record::id(id) AS id, lead, tier, scheduled_at, notes, owner,
            (SELECT company_name, owner FROM ONLY type::record('lead', $parent.lead)) AS info
         FROM follow_up {} {} LIMIT $limit",
        bound.prelude(),
        bound.filter(&conds),
        DUE_ORDER.order_by()
    );
    let rows: Vec<Value> = ctx
        .store
        .run(
            &sql,
            json!({
                "to": db_time(to),
                "from": from.map(db_time),
                "owner": owner,
                "me": actor.user_id,
                "after_at": bound.at,
                "after_id": bound.id,
                "limit": limit + 1,
            }),
        )
        .await?
        .rows(bound.statements_before())?;
    let rows: Vec<DueFollowUp> = rows.into_iter().filter_map(due_of).collect();
    Ok(Page::from_one_more(rows, limit, |d| {
        cursor::encode_at(d.scheduled_at, &d.id)
    }))
}

/// A due follow-up from its row; `None` for one whose lead is gone.
fn due_of(row: Value) -> Option<DueFollowUp> {
    let info = &row["info"];
    if info.is_null() {
        return None;
    }
    let scheduled_at: DateTime<Utc> = serde_json::from_value(row["scheduled_at"].clone()).ok()?;
    Some(DueFollowUp {
        id: row["id"].as_str()?.to_string(),
        lead_id: row["lead"].as_str().unwrap_or_default().to_string(),
        company_name: info["company_name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        owner: info["owner"].as_str().map(str::to_string),
        tier: row["tier"].as_u64().unwrap_or(0) as u8,
        scheduled_at,
        notes: row["notes"].as_str().unwrap_or_default().to_string(),
    })
}
