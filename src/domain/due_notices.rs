//! Notices when something of someone's comes due: a follow-up of a lead
//! they own, a task assigned to them. Sent once per due time, at that
//! time, with the time written in the recipient's own timezone; moving the
//! due time arms it again.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::json;

use super::chat::notifications::Notification;
use super::clock::db_time;
use super::crm::outgoing::Outgoing;
use super::error::DomainResult;
use super::{users, Ctx};
use crate::store::Transaction;

/// Only what came due this recently is told: a service that was down for
/// a week, or a first start on old data, does not send a flood of stale
/// notices.
const LOOK_BACK: Duration = Duration::hours(24);
/// At most this many a round; the rest wait for the next.
const PER_ROUND: usize = 200;

#[derive(Deserialize)]
struct DueFollowUp {
    lead: String,
    tier: i64,
    owner: String,
    scheduled_at: DateTime<Utc>,
    company: Option<String>,
}

#[derive(Deserialize)]
struct DueTask {
    id: String,
    title: String,
    assignee: String,
    due_at: DateTime<Utc>,
}

/// Claims and tells what came due; returns how many notices went out.
/// Claiming marks the due time told, in one statement, so two instances
/// never both tell it.
pub async fn send(ctx: &Ctx) -> DomainResult<usize> {
    let now = ctx.now();
    let vars = json!({"now": db_time(now), "since": db_time(now - LOOK_BACK), "limit": PER_ROUND});
    let results = ctx
        .store
        .run(
            // The inner SELECT finds the candidates through the due-time
            // index (UPDATE takes no LIMIT); the outer WHERE is checked
            // again as each row is written.
            "UPDATE (SELECT VALUE id FROM follow_up
                    WHERE scheduled_at <= <datetime>$now AND scheduled_at > <datetime>$since
                      AND outcome = 'pending' AND owner IS NOT NONE
                      AND (due_told_for IS NONE OR due_told_for != scheduled_at)
                    LIMIT $limit)
                SET due_told_for = scheduled_at
                WHERE due_told_for IS NONE OR due_told_for != scheduled_at
                RETURN lead, tier, owner, scheduled_at,
                    type::record('lead', lead).company_name AS company;
             UPDATE (SELECT VALUE id FROM task
                    WHERE due_at <= <datetime>$now AND due_at > <datetime>$since
                      AND is_open = true AND assignee IS NOT NONE
                      AND (due_told_for IS NONE OR due_told_for != due_at)
                    LIMIT $limit)
                SET due_told_for = due_at
                WHERE due_told_for IS NONE OR due_told_for != due_at
                RETURN record::id(id) AS id, title, assignee, due_at;",
            vars,
        )
        .await?;
    let follow_ups: Vec<DueFollowUp> = results.rows(0)?;
    let tasks: Vec<DueTask> = results.rows(1)?;
    let mut out = Outgoing::new();
    for f in &follow_ups {
        let at = local_time(ctx, &f.owner, f.scheduled_at).await?;
        let company = f.company.as_deref().unwrap_or("a lead");
        out.notify(
            Notification::new(
                &f.owner,
                "follow_up_due",
                None,
                None,
                &format!("Follow-up {} with {company} is due ({at})", f.tier),
                now,
            )
            .about_lead(&f.lead),
        );
    }
    for t in &tasks {
        let at = local_time(ctx, &t.assignee, t.due_at).await?;
        out.notify(
            Notification::new(
                &t.assignee,
                "task_due",
                None,
                None,
                &format!("Task \"{}\" is due ({at})", t.title),
                now,
            )
            .about_task(&t.id),
        );
    }
    let told = follow_ups.len() + tasks.len();
    if told > 0 {
        out.commit(ctx, Transaction::new()).await?;
    }
    Ok(told)
}

/// `at` as the user reads it: in their timezone, with its name.
async fn local_time(ctx: &Ctx, user: &str, at: DateTime<Utc>) -> DomainResult<String> {
    let zone: chrono_tz::Tz = users::find_record(ctx, user)
        .await?
        .and_then(|r| r.user.timezone.parse().ok())
        .unwrap_or(chrono_tz::UTC);
    Ok(at
        .with_timezone(&zone)
        .format("%a %d %b %H:%M %Z")
        .to_string())
}
