//! Notifications: what a mention, a reminder or a domain event leaves for
//! one user, stored so it survives a closed browser, counted while unread.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::actor::Actor;
use crate::domain::clock::db_time;
use crate::domain::cursor::{self, TimeOrder};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::events::{Audience, Event};
use crate::domain::permissions::Permission;
use crate::domain::{tokens, Ctx};
use crate::store::Transaction;

/// The topic of the event that carries a new notification to its user.
pub const CREATED_TOPIC: &str = "notification.created";
/// The topic of a notification the user keeps out of the hub but wants as
/// a bot direct message: heard by the bots only.
pub const DIRECT_TOPIC: &str = "notification.direct";
/// The topic that tells a user's connections their unread count changed.
pub const READ_TOPIC: &str = "notifications.read";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Notification {
    pub id: String,
    pub user: String,
    /// One of `notification_settings::KINDS` (older rows: `event`).
    pub kind: String,
    pub room: Option<String>,
    pub message: Option<String>,
    /// The lead it is about.
    #[serde(default)]
    pub lead: Option<String>,
    /// The task it is about.
    #[serde(default)]
    pub task: Option<String>,
    pub text: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
    /// Kept in the hub (the user's choice; see `notification_settings`).
    #[serde(default = "yes", skip_serializing)]
    pub in_hub: bool,
    /// Also sent as a bot direct message (the user's choice).
    #[serde(default)]
    pub by_bot: bool,
}

fn yes() -> bool {
    true
}

impl Notification {
    /// A notification for `user`, with a fresh id, to be stored by
    /// `add_to`.
    pub fn new(
        user: &str,
        kind: &str,
        room: Option<&str>,
        message: Option<&str>,
        text: &str,
        now: DateTime<Utc>,
    ) -> Self {
        Notification {
            id: tokens::new_id(),
            user: user.to_string(),
            kind: kind.to_string(),
            room: room.map(str::to_string),
            message: message.map(str::to_string),
            lead: None,
            task: None,
            text: text.chars().take(300).collect(),
            created_at: now,
            read_at: None,
            in_hub: true,
            by_bot: true,
        }
    }

    pub fn about_lead(mut self, lead: &str) -> Self {
        self.lead = Some(lead.to_string());
        self
    }

    pub fn about_task(mut self, task: &str) -> Self {
        self.task = Some(task.to_string());
        self
    }
}

/// Adds the rows to `tx`, so they land with the change that caused them.
/// Only those the hub keeps (see `notification_settings::settle`).
pub(crate) fn add_to(tx: &mut Transaction, notifications: &[Notification]) {
    let rows: Vec<_> = notifications
        .iter()
        .filter(|x| x.in_hub)
        .map(|x| {
            json!({"id": x.id, "user": x.user, "kind": x.kind, "room": x.room,
                   "message": x.message, "lead": x.lead, "task": x.task,
                   "text": x.text, "at": db_time(x.created_at)})
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    let n = tx.next_serial();
    tx.bind(&format!("notifications_{n}"), rows);
    tx.push(format!(
        "FOR $n IN $notifications_{n} {{
            CREATE type::record('notification', $n.id) SET user = $n.user, kind = $n.kind,
                room = $n.room, message = $n.message, lead = $n.lead, task = $n.task,
                text = $n.text, created_at = <datetime>$n.at;
        }}"
    ));
}

/// Tells each recipient, live, after the rows were committed.
pub(crate) fn publish(ctx: &Ctx, notifications: &[Notification]) {
    publish_to(&ctx.events, notifications)
}

/// `publish`, for a caller that holds only the bus.
pub(crate) fn publish_to(events: &crate::domain::events::EventBus, notifications: &[Notification]) {
    for n in notifications {
        let event = if n.in_hub {
            Event::new(
                CREATED_TOPIC,
                Audience::Users(vec![n.user.clone()]),
                json!(n),
            )
        } else {
            // No socket hears it; the bots do.
            Event::new(DIRECT_TOPIC, Audience::Users(Vec::new()), json!(n))
        };
        events.publish(event);
    }
}

/// Where a page of notifications starts.
#[derive(Debug, Clone, Default)]
pub enum NotificationsFrom {
    /// The newest.
    #[default]
    Newest,
    /// After the page that gave this `next_cursor` (as every list pages).
    After(String),
    /// Older than this instant (the `before` parameter kept for clients
    /// written before `after`).
    Before(DateTime<Utc>),
}

/// A page of notifications and the cursor of the next, if any.
pub type NotificationPage = cursor::Page<Notification>;

/// The order of a user's notifications: newest first, on the
/// `notification_user_created` index.
const NOTIFICATION_ORDER: TimeOrder = TimeOrder::newest_first("notification", "created_at");

/// The actor's notifications, newest first, a page at a time; ties on the
/// time are ordered by id, so a page never repeats or skips one.
pub async fn list(
    ctx: &Ctx,
    actor: &Actor,
    unread_only: bool,
    from: NotificationsFrom,
    limit: usize,
) -> DomainResult<NotificationPage> {
    actor.require(Permission::ChatUse)?;
    let bound = match from {
        NotificationsFrom::Newest => NOTIFICATION_ORDER.after(None)?,
        NotificationsFrom::After(raw) => NOTIFICATION_ORDER.after(Some(&raw))?,
        NotificationsFrom::Before(at) => NOTIFICATION_ORDER.past(at),
    };
    let mut conds = vec!["user = $user"];
    if unread_only {
        conds.push("read_at IS NONE");
    }
    NOTIFICATION_ORDER
        .page_from(
            &ctx.store,
            "SELECT *, record::id(id) AS id FROM notification",
            &conds,
            json!({"user": actor.user_id}),
            bound,
            limit,
            |n: &Notification| (n.created_at, &n.id),
        )
        .await
}

pub async fn unread_count(ctx: &Ctx, actor: &Actor) -> DomainResult<u64> {
    actor.require(Permission::ChatUse)?;
    let count: Option<u64> = ctx
        .store
        .run(
            "RETURN count(SELECT VALUE id FROM notification WHERE user = $user AND read_at IS NONE)",
            json!({"user": actor.user_id}),
        )
        .await?
        .first(0)?;
    Ok(count.unwrap_or(0))
}

/// Marks the named notifications read, or all of them when `ids` is
/// `None`; returns the unread count after. Others' notifications are left
/// alone whatever ids are sent.
pub async fn mark_read(ctx: &Ctx, actor: &Actor, ids: Option<Vec<String>>) -> DomainResult<u64> {
    actor.require(Permission::ChatUse)?;
    let now = db_time(ctx.now());
    match ids {
        None => {
            ctx.store
                .run(
                    "UPDATE notification SET read_at = <datetime>$now WHERE user = $user AND read_at IS NONE",
                    json!({"user": actor.user_id, "now": now}),
                )
                .await?;
        }
        Some(ids) => {
            if ids.len() > 500 {
                return Err(DomainError::invalid("ids", "at most 500 at once"));
            }
            ctx.store
                .run(
                    "FOR $id IN $ids {
                        UPDATE type::record('notification', $id) SET read_at = <datetime>$now
                            WHERE user = $user AND read_at IS NONE;
                    }",
                    json!({"user": actor.user_id, "now": now, "ids": ids}),
                )
                .await?;
        }
    }
    let unread = unread_count(ctx, actor).await?;
    // The user's other tabs and devices update their badge.
    ctx.events.publish(Event::new(
        READ_TOPIC,
        Audience::Users(vec![actor.user_id.clone()]),
        json!({"unread_count": unread}),
    ));
    Ok(unread)
}
