//! Deleting trashed leads for good: one lead, the whole trash, or, when an
//! admin sets a retention, whatever has been in the trash longer than that.
//!
//! What goes with a purged lead: its contacts, follow-ups and their
//! history, calls, notes, relationship-map edges, and every audit row about
//! it (they hold its contacts' values). What stays: tasks that named the
//! lead (production work has a life of its own) lose the link, with an
//! audit row each; notifications about it lose the link; the lead's chat
//! rooms stay, being the team's conversation. One `purge` audit row remains,
//! naming the lead's id and how many records went, and no value of theirs.
//!
//! Only a lead already in the trash is purged: a live lead is a conflict,
//! checked again inside the purge's transaction so a concurrent restore wins.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::leads::{self, Lead, Scope};
use super::outgoing::Outgoing;
use super::settings;
use crate::domain::actor::Actor;
use crate::domain::audit::{self, FieldChange};
use crate::domain::clock::db_time;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::events::Event;
use crate::domain::permissions::Permission;
use crate::domain::{maintenance, Ctx};
use crate::store::Transaction;

/// Leads looked up per round when emptying the trash.
const BATCH: usize = 50;
/// Rounds per call: one call purges at most `BATCH * MAX_ROUNDS` leads and
/// says whether more are left.
const MAX_ROUNDS: usize = 20;

/// The outcome of emptying the trash.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Emptied {
    pub purged: usize,
    /// Trashed leads are left: call again.
    pub more: bool,
}

/// What a purge removed, by kind, for its audit row.
#[derive(Debug, Default, Deserialize)]
struct Removed {
    contacts: i64,
    follow_ups: i64,
    follow_up_history: i64,
    calls: i64,
    notes: i64,
    tasks: Vec<String>,
}

/// Deletes one trashed lead for good (`leads.purge`). A live lead is a
/// conflict: move it to the trash first.
#[tracing::instrument(skip_all, fields(actor = %actor.username, lead = %id))]
pub async fn purge(ctx: &Ctx, actor: &Actor, id: &str) -> DomainResult<()> {
    actor.require(Permission::LeadsPurge)?;
    let lead = leads::load_visible(ctx, actor, id, true).await?;
    if lead.deleted_at.is_none() {
        return Err(not_in_trash());
    }
    purge_one(ctx, actor, &lead).await
}

/// Deletes every trashed lead the actor may see (`leads.purge`), a batch
/// at a time; a lead restored meanwhile is left alone.
#[tracing::instrument(skip_all, fields(actor = %actor.username))]
pub async fn empty(ctx: &Ctx, actor: &Actor) -> DomainResult<Emptied> {
    actor.require(Permission::LeadsPurge)?;
    let scope = Scope::of(actor)?;
    purge_trashed_before(ctx, actor, &scope, ctx.now()).await
}

/// The retention round: purges leads trashed longer ago than the retention
/// an admin set, as the system. Nothing while the setting is off or the
/// service is closed for maintenance. Returns how many went.
pub async fn purge_expired(ctx: &Ctx) -> DomainResult<usize> {
    if maintenance::is_on(ctx) {
        return Ok(0);
    }
    let Some(days) = settings::trash_retention(ctx).await?.trash_retention_days else {
        return Ok(0);
    };
    let cutoff = ctx.now() - Duration::days(i64::from(days));
    let done = purge_trashed_before(ctx, &Actor::system(), &Scope::All, cutoff).await?;
    Ok(done.purged)
}

fn not_in_trash() -> DomainError {
    DomainError::Conflict("the lead is not in the trash: move it to the trash first".into())
}

/// Purges leads in `scope` trashed at or before `cutoff`, in bounded rounds.
async fn purge_trashed_before(
    ctx: &Ctx,
    actor: &Actor,
    scope: &Scope,
    cutoff: DateTime<Utc>,
) -> DomainResult<Emptied> {
    let mut done = Emptied::default();
    let mut skipped: Vec<String> = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let batch = trashed_before(ctx, scope, cutoff, BATCH + skipped.len()).await?;
        let fresh: Vec<Lead> = batch
            .into_iter()
            .filter(|l| !skipped.contains(&l.id))
            .collect();
        if fresh.is_empty() {
            return Ok(done);
        }
        for lead in fresh.iter().take(BATCH) {
            match purge_one(ctx, actor, lead).await {
                Ok(()) => done.purged += 1,
                // Restored or purged by someone else meanwhile.
                Err(DomainError::Conflict(_) | DomainError::NotFound(_)) => {
                    skipped.push(lead.id.clone())
                }
                Err(e) => return Err(e),
            }
        }
    }
    done.more = !trashed_before(ctx, scope, cutoff, BATCH + skipped.len())
        .await?
        .iter()
        .all(|l| skipped.contains(&l.id));
    Ok(done)
}

/// Up to `limit` leads in `scope` trashed at or before `cutoff`, oldest
/// first, through the `trashed_at` index.
async fn trashed_before(
    ctx: &Ctx,
    scope: &Scope,
    cutoff: DateTime<Utc>,
    limit: usize,
) -> DomainResult<Vec<Lead>> {
    // The lower bound keeps live leads (no `trashed_at`) out of the range.
    let scoped = scope
        .condition()
        .map(|c| format!(" AND {c}"))
        .unwrap_or_default();
    let sql = format!(
        "{} lead WHERE trashed_at >= <datetime>'1970-01-01T00:00:00Z' AND trashed_at <= <datetime>$cutoff{scoped}
         ORDER BY trashed_at ASC LIMIT $limit",
        leads::SELECT_LEAD
    );
    Ok(ctx
        .store
        .run(
            &sql,
            json!({"cutoff": db_time(cutoff), "limit": limit, "scope_user": scope.user()}),
        )
        .await?
        .rows(0)?)
}

async fn removed(ctx: &Ctx, id: &str) -> DomainResult<Removed> {
    let found: Option<Removed> = ctx
        .store
        .run(
            "RETURN {
                contacts: array::len((SELECT VALUE id FROM contact WHERE lead = $lead)),
                follow_ups: array::len((SELECT VALUE id FROM follow_up WHERE lead = $lead)),
                follow_up_history: array::len((SELECT VALUE id FROM follow_up_history WHERE lead = $lead)),
                calls: array::len((SELECT VALUE id FROM call WHERE lead = $lead)),
                notes: array::len((SELECT VALUE id FROM lead_note WHERE lead = $lead)),
                tasks: (SELECT VALUE record::id(id) FROM task WHERE lead = $lead),
            }",
            json!({"lead": id}),
        )
        .await?
        .first(0)?;
    found.ok_or_else(|| DomainError::Internal("counting a lead's records".into()))
}

/// Purges `lead` (as read, in the trash) in one transaction with its audit.
async fn purge_one(ctx: &Ctx, actor: &Actor, lead: &Lead) -> DomainResult<()> {
    let removed = removed(ctx, &lead.id).await?;
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("purge_lead", &lead.id)
        .bind("purge_now", db_time(now));
    tx.push(
        "LET $purge_rec = type::record('lead', $purge_lead);
         IF (SELECT VALUE deleted_at FROM ONLY $purge_rec) IS NONE {
             THROW 'the lead is not in the trash: move it to the trash first'
         };
         DELETE contact WHERE lead = $purge_lead;
         DELETE follow_up WHERE lead = $purge_lead;
         DELETE follow_up_history WHERE lead = $purge_lead;
         DELETE call WHERE lead = $purge_lead;
         DELETE lead_note WHERE lead = $purge_lead;
         DELETE related WHERE in = $purge_rec;
         DELETE related WHERE out = $purge_rec;
         UPDATE task SET lead = NONE, updated_at = <datetime>$purge_now WHERE lead = $purge_lead;
         UPDATE notification SET lead = NONE WHERE lead = $purge_lead;
         DELETE audit WHERE subject = $purge_lead;
         DELETE audit WHERE entity = 'lead' AND entity_id = $purge_lead;
         DELETE $purge_rec;",
    );
    for task in &removed.tasks {
        audit::record(
            &mut tx,
            actor,
            "task",
            task,
            "update",
            &[FieldChange::new("lead", Some(json!(lead.id)), None)],
            now,
        );
    }
    audit::record(
        &mut tx,
        actor,
        "lead",
        &lead.id,
        "purge",
        &[FieldChange::new("removed", None, Some(removed.summary()))],
        now,
    );
    let mut out = Outgoing::new();
    out.add(Event::new(
        "lead.purged",
        leads::audience(lead),
        json!({"lead": lead.id, "via": actor.channel}),
    ));
    match out.commit(ctx, tx).await {
        Ok(_) => Ok(()),
        // The transaction's own check: restored (or gone) meanwhile.
        Err(DomainError::Conflict(m)) if m.contains("not in the trash") => Err(not_in_trash()),
        Err(e) => Err(e),
    }
}

impl Removed {
    /// Counts only: what kinds of records went, never what they said.
    fn summary(&self) -> Value {
        json!({
            "contacts": self.contacts,
            "follow_ups": self.follow_ups,
            "follow_up_history": self.follow_up_history,
            "calls": self.calls,
            "notes": self.notes,
            "tasks_unlinked": self.tasks.len(),
        })
    }
}
