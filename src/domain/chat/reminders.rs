//! Reminders: "remind me at <time>", about a message or free-standing,
//! stored in the database and fired by a scheduler as a notification.
//!
//! Firing is claimed with a conditional update (`WHERE fired_at IS NONE`)
//! in the same transaction as the notification it creates, so a reminder
//! fires once however many instances run the scheduler, and a restart
//! picks up whatever came due while the service was down.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::messages;
use super::notifications::{self, Notification};
use crate::domain::actor::Actor;
use crate::domain::audit::{self, FieldChange};
use crate::domain::clock::db_time;
use crate::domain::cursor::{Page, TimeOrder};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::{tokens, Ctx};
use crate::store::Transaction;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reminder {
    pub id: String,
    pub user: String,
    pub room: Option<String>,
    pub message: Option<String>,
    pub text: String,
    pub due_at: DateTime<Utc>,
    pub fired_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewReminder {
    pub text: String,
    /// When to remind; the bots crate turns "tomorrow 9am" into this later.
    pub due_at: DateTime<Utc>,
    /// Remind about this message (the actor must be able to read it).
    pub message: Option<String>,
}

/// How many due reminders one scheduler pass claims.
const BATCH: usize = 100;

pub async fn create(ctx: &Ctx, actor: &Actor, input: NewReminder) -> DomainResult<Reminder> {
    super::require_chat(ctx, actor)?;
    let text = input.text.trim().to_string();
    if text.chars().count() > 500 {
        return Err(DomainError::invalid(
            "text",
            "must be at most 500 characters",
        ));
    }
    let (room, message) = match &input.message {
        Some(id) => {
            let message = messages::get(ctx, actor, id).await?;
            (Some(message.room), Some(message.id))
        }
        None => (None, None),
    };
    if text.is_empty() && message.is_none() {
        return Err(DomainError::invalid(
            "text",
            "say what to remind of, or point at a message",
        ));
    }
    let now = ctx.now();
    let id = tokens::new_id();
    let mut tx = Transaction::new();
    tx.bind("id", &id)
        .bind("user", &actor.user_id)
        .bind("room", &room)
        .bind("message", &message)
        .bind("text", &text)
        .bind("due", db_time(input.due_at))
        .bind("now", db_time(now));
    tx.push(
        "CREATE type::record('reminder', $id) SET user = $user, room = $room, message = $message,
            text = $text, due_at = <datetime>$due, created_at = <datetime>$now",
    );
    let changes = vec![FieldChange::new("due_at", None, Some(json!(input.due_at)))];
    audit::record(&mut tx, actor, "reminder", &id, "create", &changes, now);
    tx.commit(&ctx.store).await?;
    find(ctx, &id)
        .await?
        .ok_or(DomainError::NotFound("reminder"))
}

async fn find(ctx: &Ctx, id: &str) -> DomainResult<Option<Reminder>> {
    Ok(ctx
        .store
        .run(
            "SELECT *, record::id(id) AS id FROM ONLY type::record('reminder', $id)",
            json!({"id": id}),
        )
        .await?
        .first(0)?)
}

/// The order of one's reminders: soonest first, on the `reminder_user`
/// index.
const REMINDER_ORDER: TimeOrder = TimeOrder::oldest_first("reminder", "due_at");

/// The actor's reminders, soonest first (fired ones included until
/// cleared), a page at a time (`limit` 1 to 200).
pub async fn list(
    ctx: &Ctx,
    actor: &Actor,
    after: Option<&str>,
    limit: usize,
) -> DomainResult<Page<Reminder>> {
    super::require_chat(ctx, actor)?;
    REMINDER_ORDER
        .page(
            &ctx.store,
            "SELECT *, record::id(id) AS id FROM reminder",
            &["user = $user"],
            json!({"user": actor.user_id}),
            after,
            limit,
            |r: &Reminder| (r.due_at, &r.id),
        )
        .await
}

/// Cancels one of the actor's reminders (fired or not: a fired one is
/// cleared from the list). Someone else's reminder is not found.
pub async fn cancel(ctx: &Ctx, actor: &Actor, id: &str) -> DomainResult<()> {
    super::require_chat(ctx, actor)?;
    let reminder = find(ctx, id)
        .await?
        .filter(|r| r.user == actor.user_id)
        .ok_or(DomainError::NotFound("reminder"))?;
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("id", &reminder.id);
    tx.push("DELETE type::record('reminder', $id)");
    let changes = vec![FieldChange::new(
        "due_at",
        Some(json!(reminder.due_at)),
        None,
    )];
    audit::record(
        &mut tx,
        actor,
        "reminder",
        &reminder.id,
        "cancel",
        &changes,
        now,
    );
    tx.commit(&ctx.store).await?;
    Ok(())
}

/// Fires every reminder due at `ctx.now()`; returns how many this call
/// fired (reminders claimed by another instance are not counted).
pub async fn fire_due(ctx: &Ctx) -> DomainResult<usize> {
    let now = ctx.now();
    let due: Vec<Reminder> = ctx
        .store
        .run(
            "SELECT *, record::id(id) AS id FROM reminder
             WHERE fired_at IS NONE AND due_at <= <datetime>$now ORDER BY due_at LIMIT $limit",
            json!({"now": db_time(now), "limit": BATCH}),
        )
        .await?
        .rows(0)?;
    let mut fired = 0;
    for reminder in due {
        match fire(ctx, &reminder, now).await {
            Ok(true) => fired += 1,
            Ok(false) => {}
            // Another instance claimed it in the same instant; its
            // transaction won and ours rolled back.
            Err(DomainError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(fired)
}

/// Claims one reminder and leaves its notification, in one transaction;
/// `false` when someone else had claimed it.
async fn fire(ctx: &Ctx, reminder: &Reminder, now: DateTime<Utc>) -> DomainResult<bool> {
    let text = if reminder.text.is_empty() {
        "Reminder about a message".to_string()
    } else {
        format!("Reminder: {}", reminder.text)
    };
    let mut notes = vec![Notification::new(
        &reminder.user,
        "reminder",
        reminder.room.as_deref(),
        reminder.message.as_deref(),
        &text,
        now,
    )];
    super::notification_settings::settle(ctx, &mut notes).await?;
    let mut tx = Transaction::new();
    tx.bind("id", &reminder.id).bind("now", db_time(now));
    // Present when the hub keeps it (the user's choice).
    let kept = notes.iter().find(|n| n.in_hub);
    tx.bind(
        "note",
        kept.map(|note| {
            json!({"id": note.id, "user": note.user, "room": note.room,
                   "message": note.message, "text": note.text})
        }),
    );
    tx.push(
        "LET $claimed = (UPDATE type::record('reminder', $id) SET fired_at = <datetime>$now
            WHERE fired_at IS NONE RETURN VALUE record::id(id))",
    );
    tx.push(
        "IF array::len($claimed) > 0 AND $note != NONE {
            CREATE type::record('notification', $note.id) SET user = $note.user, kind = 'reminder',
                room = $note.room, message = $note.message, text = $note.text, created_at = <datetime>$now;
        }",
    );
    let claimed_at = tx.push("RETURN $claimed");
    let results = tx.commit(&ctx.store).await?;
    let claimed = matches!(results.value(claimed_at), Value::Array(ids) if !ids.is_empty());
    if claimed {
        tracing::debug!(reminder = %reminder.id, "reminder fired");
        notifications::publish(ctx, &notes);
    }
    Ok(claimed)
}

/// The scheduler: fires due reminders every `every` until the task is
/// stopped, and once an hour forgets old idempotency keys (chat sends' and
/// REST creates') and unused socket tickets, and deletes the leads past the
/// trash retention. Errors are logged and retried on the next round.
pub async fn run_scheduler(ctx: std::sync::Arc<Ctx>, every: std::time::Duration) {
    const HOUSEKEEPING_EVERY: chrono::Duration = chrono::Duration::hours(1);
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_housekeeping: Option<DateTime<Utc>> = None;
    loop {
        ticks.tick().await;
        if let Err(e) = fire_due(&ctx).await {
            tracing::warn!(error = %e, "reminder round failed");
        }
        if let Err(e) = crate::domain::due_notices::send(&ctx).await {
            tracing::warn!(error = %e, "due notices round failed");
        }
        let now = ctx.now();
        if last_housekeeping.is_none_or(|t| now - t >= HOUSEKEEPING_EVERY) {
            last_housekeeping = Some(now);
            match messages::forget_old_send_keys(&ctx).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(removed = n, "old idempotency keys forgotten"),
                Err(e) => tracing::warn!(error = %e, "could not forget old idempotency keys"),
            }
            match crate::domain::idempotency::forget_old(&ctx).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(removed = n, "old request idempotency keys forgotten"),
                Err(e) => {
                    tracing::warn!(error = %e, "could not forget old request idempotency keys")
                }
            }
            if let Err(e) = crate::domain::socket_tickets::forget_expired(&ctx).await {
                tracing::warn!(error = %e, "could not forget expired socket tickets");
            }
            // The trash retention an admin set (off by default).
            match crate::domain::crm::trash::purge_expired(&ctx).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "leads past the trash retention deleted"),
                Err(e) => {
                    tracing::warn!(error = %e, "could not purge the trash past its retention")
                }
            }
        }
    }
}
