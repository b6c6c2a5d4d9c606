//! `/notifications`, `/me/notification-settings` and `/reminders`: what
//! mentions, assignments, due dates and reminders left for you, where you
//! want to hear of them, and the reminders you set.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::ToJSON;
use poem_openapi::{Object, OpenApi};

use super::common::Done;
use super::ApiTags;
use crate::domain::chat::notification_settings::{self, NotificationSettings, KINDS};
use crate::domain::chat::notifications::{self, Notification, NotificationsFrom};
use crate::domain::chat::reminders::{self, NewReminder, Reminder};
use crate::domain::cursor::Page;
use crate::http::auth::Auth;
use crate::http::error::ApiResult;
use crate::http::idempotency::{self, Idempotent, KeyHeader};
use crate::http::AppState;

pub struct NotificationsApi;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct NotificationView {
    id: String,
    /// mention, reminder, lead_assigned, follow_up_due, task_assigned or
    /// task_due (`event` on older ones).
    kind: String,
    room: Option<String>,
    message: Option<String>,
    /// The lead it is about.
    lead: Option<String>,
    /// The task it is about.
    task: Option<String>,
    text: String,
    created_at: DateTime<Utc>,
    read_at: Option<DateTime<Utc>>,
}

impl From<Notification> for NotificationView {
    fn from(n: Notification) -> Self {
        NotificationView {
            id: n.id,
            kind: n.kind,
            room: n.room,
            message: n.message,
            lead: n.lead,
            task: n.task,
            text: n.text,
            created_at: n.created_at,
            read_at: n.read_at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct NotificationPage {
    items: Vec<NotificationView>,
    /// Pass back as `after` for the next page; absent on the last page.
    next_cursor: Option<String>,
    unread_count: u64,
}

impl NotificationPage {
    /// The unread count is over all your notifications, not only this page.
    fn new(page: notifications::NotificationPage, unread_count: u64) -> Self {
        NotificationPage {
            items: page.items.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
            unread_count,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct UnreadCount {
    unread_count: u64,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct MarkRead {
    /// These notifications; absent: all of yours.
    ids: Option<Vec<String>>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CreateReminder {
    /// RFC 3339, e.g. `2026-05-01T09:00:00Z`.
    due_at: DateTime<Utc>,
    #[oai(default)]
    text: String,
    /// Remind about this message.
    message: Option<String>,
}

impl From<CreateReminder> for NewReminder {
    fn from(b: CreateReminder) -> Self {
        NewReminder {
            text: b.text,
            due_at: b.due_at,
            message: b.message,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ReminderView {
    id: String,
    room: Option<String>,
    message: Option<String>,
    text: String,
    due_at: DateTime<Utc>,
    fired_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl From<Reminder> for ReminderView {
    fn from(r: Reminder) -> Self {
        ReminderView {
            id: r.id,
            room: r.room,
            message: r.message,
            text: r.text,
            due_at: r.due_at,
            fired_at: r.fired_at,
            created_at: r.created_at,
        }
    }
}

/// A page of your reminders.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ReminderPageView {
    /// Soonest first.
    items: Vec<ReminderView>,
    /// Pass as `after` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

impl From<Page<Reminder>> for ReminderPageView {
    fn from(p: Page<Reminder>) -> Self {
        ReminderPageView {
            items: p.items.into_iter().map(Into::into).collect(),
            next_cursor: p.next_cursor,
        }
    }
}

/// Where you hear of what; everything not listed is on.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct NotificationSettingsView {
    /// Kinds kept out of the hub (no stored notification, no badge).
    hub_off: Vec<String>,
    /// Kinds not sent to you as a bot direct message.
    bot_off: Vec<String>,
    /// Rooms whose mentions reach you nowhere.
    muted_rooms: Vec<String>,
    /// Every kind there is, with what it is for.
    kinds: Vec<NotificationKindView>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct NotificationKindView {
    kind: String,
    description: String,
}

/// A row of the kind catalogue, `(kind, description)`.
impl From<&(&str, &str)> for NotificationKindView {
    fn from((kind, description): &(&str, &str)) -> Self {
        NotificationKindView {
            kind: kind.to_string(),
            description: description.to_string(),
        }
    }
}

impl From<NotificationSettings> for NotificationSettingsView {
    fn from(s: NotificationSettings) -> Self {
        NotificationSettingsView {
            hub_off: s.hub_off,
            bot_off: s.bot_off,
            muted_rooms: s.muted_rooms,
            kinds: KINDS.iter().map(Into::into).collect(),
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct NotificationSettingsInput {
    #[oai(default)]
    hub_off: Vec<String>,
    #[oai(default)]
    bot_off: Vec<String>,
    #[oai(default)]
    muted_rooms: Vec<String>,
}

impl From<NotificationSettingsInput> for NotificationSettings {
    fn from(b: NotificationSettingsInput) -> Self {
        NotificationSettings {
            hub_off: b.hub_off,
            bot_off: b.bot_off,
            muted_rooms: b.muted_rooms,
        }
    }
}

#[OpenApi(tag = "ApiTags::Notifications")]
impl NotificationsApi {
    /// Your notification settings: which kinds reach you in the hub and by
    /// bot, and the rooms you muted.
    #[oai(path = "/me/notification-settings", method = "get")]
    async fn settings(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> ApiResult<Json<NotificationSettingsView>> {
        Ok(Json(
            notification_settings::get(&state.ctx, auth.actor())
                .await?
                .into(),
        ))
    }

    /// Replace your notification settings.
    #[oai(path = "/me/notification-settings", method = "put")]
    async fn set_settings(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<NotificationSettingsInput>,
    ) -> ApiResult<Json<NotificationSettingsView>> {
        Ok(Json(
            notification_settings::set(&state.ctx, auth.actor(), body.0.into())
                .await?
                .into(),
        ))
    }

    /// Your notifications, newest first, with the unread count.
    #[oai(path = "/notifications", method = "get")]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        unread: Query<Option<bool>>,
        /// The `next_cursor` of the previous page.
        after: Query<Option<String>>,
        /// Deprecated: older than this instant. Use `after`.
        #[oai(deprecated)]
        before: Query<Option<DateTime<Utc>>>,
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<NotificationPage>> {
        let actor = auth.actor();
        let from = match (after.0, before.0) {
            (Some(cursor), _) => NotificationsFrom::After(cursor),
            (None, Some(at)) => NotificationsFrom::Before(at),
            (None, None) => NotificationsFrom::Newest,
        };
        let page = notifications::list(
            &state.ctx,
            actor,
            unread.0.unwrap_or(false),
            from,
            limit.0.unwrap_or(50) as usize,
        )
        .await?;
        let unread_count = notifications::unread_count(&state.ctx, actor).await?;
        Ok(Json(NotificationPage::new(page, unread_count)))
    }

    /// How many of your notifications are unread.
    #[oai(path = "/notifications/unread-count", method = "get")]
    async fn unread_count(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> ApiResult<Json<UnreadCount>> {
        let unread_count = notifications::unread_count(&state.ctx, auth.actor()).await?;
        Ok(Json(UnreadCount { unread_count }))
    }

    /// Mark some or all of your notifications read.
    #[oai(path = "/notifications/read", method = "post")]
    async fn mark_read(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<MarkRead>,
    ) -> ApiResult<Json<UnreadCount>> {
        let unread_count = notifications::mark_read(&state.ctx, auth.actor(), body.0.ids).await?;
        Ok(Json(UnreadCount { unread_count }))
    }

    /// Set a reminder, about a message or free-standing.
    #[oai(path = "/reminders", method = "post")]
    async fn create_reminder(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// 1 to 255 printable characters naming this request: a retry with
        /// the same key and body gets the first answer again instead of a
        /// second reminder (kept 24 h).
        #[oai(name = "Idempotency-Key")]
        idempotency_key: KeyHeader,
        body: Json<CreateReminder>,
    ) -> ApiResult<Idempotent<ReminderView>> {
        let request = serde_json::json!({"body": body.0.to_json()});
        let (ctx, actor) = (Arc::clone(&state.ctx), auth.actor().clone());
        let input: NewReminder = body.0.into();
        let create = async move { Ok(reminders::create(&ctx, &actor, input).await?.into()) };
        idempotency::once(
            &state.ctx,
            auth.actor(),
            "reminders.create",
            idempotency_key.0.as_deref(),
            request,
            create,
        )
        .await
    }

    /// Your reminders, soonest first, a page at a time.
    #[oai(path = "/reminders", method = "get")]
    async fn list_reminders(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// The `next_cursor` of the previous page.
        after: Query<Option<String>>,
        /// 1 to 200, default 50.
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<ReminderPageView>> {
        let limit = limit.0.unwrap_or(50) as usize;
        Ok(Json(
            reminders::list(&state.ctx, auth.actor(), after.0.as_deref(), limit)
                .await?
                .into(),
        ))
    }

    /// Cancel one of your reminders (a fired one is cleared from the list).
    #[oai(path = "/reminders/:id", method = "delete")]
    async fn cancel_reminder(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<Done>> {
        reminders::cancel(&state.ctx, auth.actor(), &id.0).await?;
        Ok(Json(Done { ok: true }))
    }
}
