//! Who wants to hear of what, and where: per kind of notification, in the
//! hub (stored, with the unread badge) and as a bot direct message; and
//! rooms muted altogether. Everything is on until the user turns it off.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::notifications::Notification;
use super::rooms;
use crate::domain::actor::Actor;
use crate::domain::clock::db_time;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::Ctx;
use crate::store::lookups::rows_for_all;

/// Every kind of notification, with what it is for a person choosing.
pub const KINDS: &[(&str, &str)] = &[
    ("mention", "Someone @mentions you in a room or on a task"),
    ("reminder", "A reminder you set comes due"),
    ("lead_assigned", "A lead is assigned to you"),
    (
        "follow_up_due",
        "A follow-up of one of your leads comes due",
    ),
    ("task_assigned", "A task is assigned to you"),
    ("task_due", "A task assigned to you comes due"),
];

/// One user's choices; what is not listed is on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationSettings {
    /// Kinds not kept in the hub.
    #[serde(default)]
    pub hub_off: Vec<String>,
    /// Kinds not sent as bot direct messages.
    #[serde(default)]
    pub bot_off: Vec<String>,
    /// Rooms whose mentions reach the user nowhere.
    #[serde(default)]
    pub muted_rooms: Vec<String>,
}

impl NotificationSettings {
    fn mutes(&self, note: &Notification) -> bool {
        note.room
            .as_ref()
            .is_some_and(|room| self.muted_rooms.contains(room))
    }

    fn in_hub(&self, note: &Notification) -> bool {
        !self.mutes(note) && !self.hub_off.contains(&note.kind)
    }

    fn by_bot(&self, note: &Notification) -> bool {
        !self.mutes(note) && !self.bot_off.contains(&note.kind)
    }
}

#[derive(Deserialize)]
struct Row {
    user: String,
    #[serde(flatten)]
    settings: NotificationSettings,
}

pub async fn get(ctx: &Ctx, actor: &Actor) -> DomainResult<NotificationSettings> {
    Ok(of_users(ctx, std::slice::from_ref(&actor.user_id))
        .await?
        .remove(&actor.user_id)
        .unwrap_or_default())
}

/// Replaces the actor's choices. Kinds must be known; a room must be one
/// the actor is in.
pub async fn set(
    ctx: &Ctx,
    actor: &Actor,
    settings: NotificationSettings,
) -> DomainResult<NotificationSettings> {
    let kind = |field: &'static str, list: Vec<String>| -> DomainResult<Vec<String>> {
        let mut list: Vec<String> = list.into_iter().map(|k| k.trim().to_string()).collect();
        if let Some(unknown) = list
            .iter()
            .find(|k| !KINDS.iter().any(|(known, _)| known == k))
        {
            return Err(DomainError::invalid(
                field,
                format!("`{unknown}` is not a kind of notification"),
            ));
        }
        list.sort();
        list.dedup();
        Ok(list)
    };
    let hub_off = kind("hub_off", settings.hub_off)?;
    let bot_off = kind("bot_off", settings.bot_off)?;
    let mut muted_rooms = settings.muted_rooms;
    muted_rooms.sort();
    muted_rooms.dedup();
    if muted_rooms.len() > 500 {
        return Err(DomainError::invalid("muted_rooms", "at most 500 rooms"));
    }
    for room in &muted_rooms {
        if rooms::membership(ctx, room, &actor.user_id)
            .await?
            .is_none()
        {
            return Err(DomainError::invalid(
                "muted_rooms",
                format!("`{room}` is not a room you are in"),
            ));
        }
    }
    let settings = NotificationSettings {
        hub_off,
        bot_off,
        muted_rooms,
    };
    ctx.store
        .run(
            "UPSERT type::record('notification_settings', $user) SET user = $user, hub_off = $s.hub_off,
                bot_off = $s.bot_off, muted_rooms = $s.muted_rooms, updated_at = <datetime>$now",
            json!({"user": actor.user_id, "s": settings, "now": db_time(ctx.now())}),
        )
        .await?;
    Ok(settings)
}

async fn of_users(
    ctx: &Ctx,
    users: &[String],
) -> DomainResult<HashMap<String, NotificationSettings>> {
    let rows: Vec<Row> = rows_for_all(
        &ctx.store,
        "SELECT user, hub_off, bot_off, muted_rooms FROM notification_settings WHERE user IN $list",
        users,
    )
    .await?;
    Ok(rows.into_iter().map(|r| (r.user, r.settings)).collect())
}

/// Applies each recipient's choices: marks which notifications the hub
/// keeps and which a bot sends, and drops those that go nowhere.
pub(crate) async fn settle(ctx: &Ctx, notes: &mut Vec<Notification>) -> DomainResult<()> {
    if notes.is_empty() {
        return Ok(());
    }
    let mut users: Vec<String> = notes.iter().map(|n| n.user.clone()).collect();
    users.sort();
    users.dedup();
    let settings = of_users(ctx, &users).await?;
    let none = NotificationSettings::default();
    for note in notes.iter_mut() {
        let chosen = settings.get(&note.user).unwrap_or(&none);
        note.in_hub = chosen.in_hub(note);
        note.by_bot = chosen.by_bot(note);
    }
    notes.retain(|n| n.in_hub || n.by_bot);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn a_muted_room_silences_its_mentions_everywhere_and_kinds_switch_per_channel() {
        let settings = NotificationSettings {
            hub_off: vec!["lead_assigned".into()],
            bot_off: vec!["mention".into()],
            muted_rooms: vec!["noisy".into()],
        };
        let now = Utc::now();
        let in_noisy = Notification::new("u", "mention", Some("noisy"), None, "hi", now);
        assert!(!settings.in_hub(&in_noisy) && !settings.by_bot(&in_noisy));
        let elsewhere = Notification::new("u", "mention", Some("quiet"), None, "hi", now);
        assert!(settings.in_hub(&elsewhere) && !settings.by_bot(&elsewhere));
        let assigned = Notification::new("u", "lead_assigned", None, None, "yours", now);
        assert!(!settings.in_hub(&assigned) && settings.by_bot(&assigned));
    }
}
