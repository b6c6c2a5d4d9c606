//! Mirroring between hub rooms and the platform chats they are bridged
//! to, for every platform alike: new messages, edits and deletes, and
//! files as links.
//!
//! An adapter supplies a [`BridgeSide`] (post, edit, delete on its
//! platform) and calls the `*_in` functions for what its chats do. Each
//! mirrored message is remembered (`bridges::remember_mirror`) so its edits
//! and deletes follow it. Loops cannot happen: what comes in is stored as
//! a bot-authored hub message, and bot-authored messages (and their
//! updates) are never sent out; adapters ignore their own bot's messages.
//!
//! A bridge pauses, both ways, while the chat or its platform's bot is
//! switched off: what is said meanwhile is not mirrored, then or later.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;

use crate::domain::bridges::{self, MirroredMessage};
use crate::domain::chat::{files, messages};
use crate::domain::events::Event;
use crate::domain::features::{self, Feature};
use crate::domain::Ctx;

pub type BridgeFuture<'a, T> = Pin<Box<dyn Future<Output = anyhow::Result<T>> + Send + 'a>>;

/// What a platform does to the other side of a bridge.
pub trait BridgeSide: Send + Sync {
    fn platform(&self) -> &'static str;
    /// Posts `text` in the chat; returns the platform's message id.
    fn post<'a>(&'a self, chat_id: &'a str, text: String) -> BridgeFuture<'a, String>;
    fn edit<'a>(
        &'a self,
        chat_id: &'a str,
        message_id: &'a str,
        text: String,
    ) -> BridgeFuture<'a, ()>;
    fn delete<'a>(&'a self, chat_id: &'a str, message_id: &'a str) -> BridgeFuture<'a, ()>;
}

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

/// Follows the hub's messages out to one platform until the bus closes.
pub async fn mirror_hub_messages(
    ctx: Arc<Ctx>,
    side: Arc<dyn BridgeSide>,
    mut events: tokio::sync::broadcast::Receiver<Arc<Event>>,
    public_base_url: Option<String>,
) {
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    platform = side.platform(),
                    "bridges fell behind the event bus"
                );
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let created = event.topic == messages::CREATED_TOPIC;
        if !created && event.topic != messages::UPDATED_TOPIC {
            continue;
        }
        if !is_open(&ctx, side.platform()) {
            continue;
        }
        let Ok(message) = serde_json::from_value::<messages::Message>(event.payload.clone()) else {
            continue;
        };
        // The bot's own messages (mirrored in, or answers) stay home.
        if message.author == messages::BOT_AUTHOR {
            continue;
        }
        let outcome = if created {
            send_out(&ctx, side.as_ref(), &message, public_base_url.as_deref()).await
        } else {
            follow_change(&ctx, side.as_ref(), &message, public_base_url.as_deref()).await
        };
        if let Err(e) = outcome {
            tracing::warn!(error = %e, platform = side.platform(), "hub message not mirrored");
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

async fn send_out(
    ctx: &Ctx,
    side: &dyn BridgeSide,
    message: &messages::Message,
    base: Option<&str>,
) -> anyhow::Result<()> {
    if message.deleted_at.is_some() {
        return Ok(());
    }
    let bridges: Vec<_> = bridges::of_room(ctx, &message.room)
        .await?
        .into_iter()
        .filter(|b| b.platform == side.platform())
        .collect();
    if bridges.is_empty() {
        return Ok(());
    }
    let text = text_of(ctx, message, base).await;
    for bridge in &bridges {
        let body = text.clone();
        let platform_message_id = side.post(&bridge.chat_id, body.clone()).await?;
        bridges::remember_mirror(
            ctx,
            &MirroredMessage {
                message: message.id.clone(),
                platform: bridge.platform.clone(),
                chat_id: bridge.chat_id.clone(),
                platform_message_id,
                body,
            },
        )
        .await?;
    }
    Ok(())
}

/// An edited or deleted hub message: the same on the platform. A change
/// that leaves the text as it was (a reaction) sends nothing.
async fn follow_change(
    ctx: &Ctx,
    side: &dyn BridgeSide,
    message: &messages::Message,
    base: Option<&str>,
) -> anyhow::Result<()> {
    let mirrors = bridges::mirrors_of_message(ctx, &message.id).await?;
    for mirror in mirrors.iter().filter(|m| m.platform == side.platform()) {
        if message.deleted_at.is_some() {
            if !mirror.body.is_empty() {
                side.delete(&mirror.chat_id, &mirror.platform_message_id)
                    .await?;
                bridges::update_mirror_body(ctx, mirror, "").await?;
            }
            continue;
        }
        let text = text_of(ctx, message, base).await;
        if text != mirror.body {
            side.edit(&mirror.chat_id, &mirror.platform_message_id, text.clone())
                .await?;
            bridges::update_mirror_body(ctx, mirror, &text).await?;
        }
    }
    Ok(())
}

/// A platform message into the room its chat is bridged to, under the
/// sender's name and platform. Does nothing for a chat with no bridge.
pub async fn mirror_in(
    ctx: &Ctx,
    platform: &str,
    chat_id: &str,
    platform_message_id: &str,
    sender: &str,
    body: &str,
) -> anyhow::Result<()> {
    if !is_open(ctx, platform) {
        return Ok(());
    }
    let Some(bridge) = bridges::of_chat(ctx, platform, chat_id).await? else {
        return Ok(());
    };
    if body.trim().is_empty() {
        return Ok(());
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
    Ok(())
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
