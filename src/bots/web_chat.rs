//! Slash commands in the hub: a message starting with `/` that a user
//! posts in a room runs through the same `bots::Engine` as Telegram and
//! Discord, as that user, and the bot answers in the room.
//!
//! It listens on the event bus rather than inside `messages::post`, so
//! posting stays one transaction with nothing slow after it. The bus is
//! per instance and only the instance that stored the message publishes
//! it, so a command runs once however many instances there are.

use std::sync::Arc;

use bots::{Engine, ParseContext, Platform, Sender};
use tokio::sync::broadcast::error::RecvError;

use super::crm_adapter::{chat_actor, DomainCrm};
use crate::domain::actor::{Channel, Credential};
use crate::domain::chat::messages::{self, Message, BOT_AUTHOR, CREATED_TOPIC};
use crate::domain::error::DomainResult;
use crate::domain::{sessions, Ctx};

/// Runs until the bus closes.
pub async fn run(ctx: Arc<Ctx>) {
    let mut events = ctx.events.subscribe();
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "web chat commands fell behind the event bus");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        if event.topic != CREATED_TOPIC {
            continue;
        }
        let Ok(message) = serde_json::from_value::<Message>(event.payload.clone()) else {
            continue;
        };
        if message.author == BOT_AUTHOR || !message.body.trim_start().starts_with('/') {
            continue;
        }
        // One command at a time would let a slow one hold up the room's
        // others; each runs on its own task.
        let ctx = ctx.clone();
        tokio::spawn(async move {
            if let Err(e) = answer(&ctx, &message).await {
                tracing::warn!(error = %e, room = %message.room, "web chat command failed");
            }
        });
    }
}

async fn answer(ctx: &Arc<Ctx>, message: &Message) -> DomainResult<()> {
    let actor = sessions::actor_for(
        ctx,
        &message.author,
        Channel::Web,
        Credential::ChatMessage(message.id.clone()),
    )
    .await?;
    let sender = Sender {
        platform: Platform::Web,
        platform_user_id: actor.user_id.clone(),
        actor: Some(chat_actor(ctx, &actor).await?),
    };
    let parse_ctx = ParseContext {
        now: ctx.now(),
        timezone: sender
            .actor
            .as_ref()
            .map(|a| a.timezone)
            .unwrap_or(chrono_tz::UTC),
        bot_username: None,
    };
    let engine = Engine::new(DomainCrm::new(ctx.clone(), Some(actor)));
    let Some(reply) = engine.handle(&sender, &message.body, &parse_ctx).await else {
        return Ok(());
    };
    let mut text = reply.text;
    // The hub has no buttons; a slash command only offers them to pick
    // among same-named leads, and each line already shows the lead's id.
    if !reply.buttons.is_empty() {
        text.push_str("\n\nSend the command again with the lead's #id to choose.");
    }
    messages::post_as_bot(
        ctx,
        &message.room,
        messages::BOT_NAME,
        &text,
        Some(&message.id),
    )
    .await?;
    Ok(())
}
