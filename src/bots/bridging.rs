//! Mirroring between hub rooms and the platform chats they are bridged
//! to, for every platform alike: new messages, edits and deletes, and
//! files as links.
//!
//! Out: [`queue_hub_messages`] follows the hub's messages and writes each
//! new message, edit and delete of a bridged room into the bots' durable
//! outbox (`domain::bot_outbox`), once per bridged chat; the outbox sender
//! (`bots::outbox`) delivers them in order per chat, retrying until the
//! platform takes them, across outages and restarts. A posted message is
//! remembered (`bridged_message`) with the platform's id, so its edits and
//! deletes follow it.
//!
//! In: an adapter calls the `mirror_in*` functions for what its chats do;
//! a platform message already mirrored (read again after a restart) is not
//! mirrored twice.
//!
//! Loops cannot happen: what comes in is stored as a bot-authored hub
//! message, and bot-authored messages (and their updates) are never sent
//! out; adapters ignore their own bot's messages.
//!
//! A bridge pauses, both ways, while the chat or its platform's bot is
//! switched off: what is said meanwhile is not mirrored, then or later.

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;

use super::outbox::Couriers;
use crate::domain::bot_outbox::{self, NewItem};
use crate::domain::bridges::{self, MirroredMessage};
use crate::domain::chat::{files, messages};
use crate::domain::events::Event;
use crate::domain::features::{self, Feature};
use crate::domain::Ctx;

/// Whether bridges to `platform` carry messages now: the chat and the
/// platform's bot both on.
fn is_open(ctx: &Ctx, platform: &str) -> bool {
    let bot = match platform {
        "telegram" => Feature::Telegram,
        "discord" => Feature::Discord,
        _ => return false,
    };
    features::is_on(ctx, Feature::Chat) && features::is_on(ctx, bot)
}

/// Follows the hub's messages into the outbox, for every bridged chat of a
/// platform configured here, until the bus closes.
pub async fn queue_hub_messages(
    ctx: Arc<Ctx>,
    couriers: Arc<Couriers>,
    mut events: tokio::sync::broadcast::Receiver<Arc<Event>>,
    public_base_url: Option<String>,
) {
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "bridges fell behind the event bus");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let created = event.topic == messages::CREATED_TOPIC;
        if !created && event.topic != messages::UPDATED_TOPIC {
            continue;
        }
        let Ok(message) = serde_json::from_value::<messages::Message>(event.payload.clone()) else {
            continue;
        };
        // The bot's own messages (mirrored in, or answers) stay home.
        if message.author == messages::BOT_AUTHOR {
            continue;
        }
        match queue(
            &ctx,
            &couriers,
            &message,
            created,
            public_base_url.as_deref(),
        )
        .await
        {
            Ok(true) => couriers.wake(),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "hub message not queued for its bridges"),
        }
    }
}

async fn text_of(ctx: &Ctx, message: &messages::Message, base: Option<&str>) -> String {
    let file_name = match &message.file {
        Some(id) => files::find(ctx, id).await.ok().flatten().map(|f| f.name),
        None => None,
    };
    bridges::outgoing_text(message, file_name.as_deref(), base)
}

/// Writes a new, edited or deleted hub message into the outbox for each
/// open bridge of its room; returns whether anything was written. A new
/// message's row is keyed by (message, platform, chat), so writing it again
/// sends nothing twice. A change that leaves the text as it was on the
/// platform (a reaction) writes nothing.
async fn queue(
    ctx: &Ctx,
    couriers: &Couriers,
    message: &messages::Message,
    created: bool,
    base: Option<&str>,
) -> anyhow::Result<bool> {
    if created && message.deleted_at.is_some() {
        return Ok(false);
    }
    let bridges: Vec<_> = bridges::of_room(ctx, &message.room)
        .await?
        .into_iter()
        .filter(|b| couriers.is_configured(&b.platform) && is_open(ctx, &b.platform))
        .collect();
    if bridges.is_empty() {
        return Ok(false);
    }
    let text = if message.deleted_at.is_some() {
        String::new()
    } else {
        text_of(ctx, message, base).await
    };
    let mirrors = if created {
        Vec::new()
    } else {
        bridges::mirrors_of_message(ctx, &message.id).await?
    };
    let mut written = false;
    for bridge in &bridges {
        let (kind, key) = if created {
            let key = bot_outbox::key_of(&["post", &message.id, &bridge.platform, &bridge.chat_id]);
            (bot_outbox::BRIDGE_POST, Some(key))
        } else {
            let mirrored = mirrors
                .iter()
                .find(|m| m.platform == bridge.platform && m.chat_id == bridge.chat_id);
            // Already so on the platform: nothing to send.
            if mirrored.is_some_and(|m| m.body == text) {
                continue;
            }
            let kind = if message.deleted_at.is_some() {
                bot_outbox::BRIDGE_DELETE
            } else {
                bot_outbox::BRIDGE_EDIT
            };
            (kind, None)
        };
        written |= bot_outbox::enqueue(
            ctx,
            &NewItem {
                key,
                platform: &bridge.platform,
                chat_id: &bridge.chat_id,
                kind,
                message: Some(&message.id),
                body: &text,
            },
        )
        .await?;
    }
    Ok(written)
}

/// A platform message into the room its chat is bridged to, under the
/// sender's name and platform. Does nothing for a chat with no bridge.
/// Returns whether the message is in the hub now (mirrored now or before).
pub async fn mirror_in(
    ctx: &Ctx,
    platform: &str,
    chat_id: &str,
    platform_message_id: &str,
    sender: &str,
    body: &str,
) -> anyhow::Result<bool> {
    if !is_open(ctx, platform) {
        return Ok(false);
    }
    let Some(bridge) = bridges::of_chat(ctx, platform, chat_id).await? else {
        return Ok(false);
    };
    if body.trim().is_empty() {
        return Ok(false);
    }
    // Read again after a restart (an update offset not yet stored, a
    // history fetch overlapping the gateway): already in the hub.
    if bridges::mirror_of_platform_message(ctx, platform, chat_id, platform_message_id)
        .await?
        .is_some()
    {
        return Ok(true);
    }
    let name = format!("{sender} ({platform})");
    let message = messages::post_as_bot(ctx, &bridge.room, &name, body, None).await?;
    bridges::remember_mirror(
        ctx,
        &MirroredMessage {
            message: message.id,
            platform: platform.to_string(),
            chat_id: chat_id.to_string(),
            platform_message_id: platform_message_id.to_string(),
            body: message.body,
        },
    )
    .await?;
    Ok(true)
}

/// A mirrored platform message was edited there: the hub copy follows.
pub async fn mirror_in_edit(
    ctx: &Ctx,
    platform: &str,
    chat_id: &str,
    platform_message_id: &str,
    body: &str,
) -> anyhow::Result<()> {
    if !is_open(ctx, platform) {
        return Ok(());
    }
    let Some(mirror) =
        bridges::mirror_of_platform_message(ctx, platform, chat_id, platform_message_id).await?
    else {
        return Ok(());
    };
    if body.trim().is_empty() || body == mirror.body {
        return Ok(());
    }
    let message = messages::edit_as_bot(ctx, &mirror.message, body).await?;
    bridges::update_mirror_body(ctx, &mirror, &message.body).await?;
    Ok(())
}

/// A mirrored platform message was deleted there: so is the hub copy.
pub async fn mirror_in_delete(
    ctx: &Ctx,
    platform: &str,
    chat_id: &str,
    platform_message_id: &str,
) -> anyhow::Result<()> {
    if !is_open(ctx, platform) {
        return Ok(());
    }
    let Some(mirror) =
        bridges::mirror_of_platform_message(ctx, platform, chat_id, platform_message_id).await?
    else {
        return Ok(());
    };
    messages::delete_as_bot(ctx, &mirror.message).await?;
    bridges::update_mirror_body(ctx, &mirror, "").await?;
    Ok(())
}
