//! Slash commands in the hub: a message starting with `/` that a user
//! posts in a room runs through the same `bots::Engine` as Telegram and
//! Discord, as that user, and the bot answers in the room. A message that
//! mentions `@bot` in plain words gets the same proposal as a mention on
//! Telegram or Discord: a bot message with Confirm/Cancel buttons
//! (`actions`), pressed through `press`, and nothing runs before that.
//!
//! It listens on the event bus rather than inside `messages::post`, so
//! posting stays one transaction with nothing slow after it. The bus is
//! per instance and only the instance that stored the message publishes
//! it, so a command runs once however many instances there are.

use std::sync::Arc;

use bots::{ButtonAction, Engine, ParseContext, Platform, Reply, Sender};
use tokio::sync::broadcast::error::RecvError;

use super::crm_adapter::{chat_actor, DomainCrm};
use crate::domain::actor::{Actor, Channel, Credential};
use crate::domain::chat::mentions;
use crate::domain::chat::messages::{self, Message, MessageAction, BOT_AUTHOR, CREATED_TOPIC};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::{sessions, Ctx};

/// How people call the bot in a hub message.
pub const BOT_MENTION: &str = "bot";

/// Whether a hub message is for the bot: a slash command, or a mention.
fn is_for_bot(body: &str) -> bool {
    body.trim_start().starts_with('/') || mentions::parse(body).usernames.contains(BOT_MENTION)
}

/// The words of a message without its `@bot` mentions, for the intent
/// reader.
fn without_bot_mention(body: &str) -> String {
    body.split_whitespace()
        .filter(|word| {
            !word
                .trim_end_matches([',', ':', '.', '!', '?'])
                .eq_ignore_ascii_case("@bot")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

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
        // Every chat message passes here: look at the text before decoding.
        let body = event.payload["body"].as_str().unwrap_or_default();
        if event.topic != CREATED_TOPIC || !is_for_bot(body) {
            continue;
        }
        let Ok(message) = serde_json::from_value::<Message>(event.payload.clone()) else {
            continue;
        };
        if message.author == BOT_AUTHOR || !is_for_bot(&message.body) {
            continue;
        }
        // One command at a time would let a slow one hold up the room's
        // others; each runs on its own task.
        let ctx = ctx.clone();
        let poster = event.by.clone();
        tokio::spawn(async move {
            if let Err(e) = answer(&ctx, &message, poster.as_ref()).await {
                tracing::warn!(error = %e, room = %message.room, "web chat command failed");
            }
        });
    }
}

/// Runs the command in `message` as its author, with no more than the
/// credential it was posted with (`poster`) holds.
async fn answer(ctx: &Arc<Ctx>, message: &Message, poster: Option<&Actor>) -> DomainResult<()> {
    let mut actor = sessions::actor_for(
        ctx,
        &message.author,
        Channel::Web,
        Credential::ChatMessage(message.id.clone()),
    )
    .await?;
    if let Some(poster) = poster {
        actor.permissions = actor
            .permissions
            .intersection(&poster.permissions)
            .copied()
            .collect();
    }
    let (sender, engine, parse_ctx) = engine_for(ctx, actor).await?;
    let text = if message.body.trim_start().starts_with('/') {
        message.body.clone()
    } else {
        without_bot_mention(&message.body)
    };
    let Some(reply) = Box::pin(engine.handle(&sender, &text, &parse_ctx)).await else {
        return Ok(());
    };
    post_reply(ctx, &sender, &message.room, &message.id, reply).await?;
    Ok(())
}

async fn engine_for(
    ctx: &Arc<Ctx>,
    actor: Actor,
) -> DomainResult<(Sender, Engine<DomainCrm>, ParseContext)> {
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
        bot_username: Some(BOT_MENTION.into()),
    };
    let engine = Engine::new(DomainCrm::new(ctx.clone(), Some(actor)));
    Ok((sender, engine, parse_ctx))
}

/// Posts the bot's reply in the room, its buttons parked for the sender.
async fn post_reply(
    ctx: &Ctx,
    sender: &Sender,
    room: &str,
    reply_to: &str,
    reply: Reply,
) -> DomainResult<Message> {
    let mut actions = Vec::new();
    for button in &reply.buttons {
        let key = super::park_action(ctx, Platform::Web, &sender.platform_user_id, &button.action)
            .await?;
        actions.push(MessageAction {
            label: button.label.clone(),
            key,
        });
    }
    messages::post_as_bot_with_actions(
        ctx,
        room,
        messages::BOT_NAME,
        &reply.text,
        Some(reply_to),
        &actions,
    )
    .await
}

/// Presses the button `key` under the bot message `message_id`: runs its
/// commands as `actor` (only the person it was offered to), takes the
/// buttons off the message, and posts the outcome in the room.
pub async fn press(
    ctx: &Arc<Ctx>,
    actor: &Actor,
    message_id: &str,
    key: &str,
) -> DomainResult<Message> {
    let message = messages::get(ctx, actor, message_id).await?;
    let offered = message
        .actions
        .as_ref()
        .is_some_and(|a| a.iter().any(|action| action.key == key));
    if message.author != BOT_AUTHOR || !offered {
        return Err(DomainError::NotFound("action"));
    }
    let action = super::take_action(ctx, Platform::Web, &actor.user_id, key)
        .await?
        .ok_or_else(|| {
            DomainError::Conflict("this button has expired or was offered to someone else".into())
        })?;
    messages::clear_actions(ctx, message_id, key).await?;
    let mut runner = sessions::actor_for(
        ctx,
        &actor.user_id,
        Channel::Web,
        Credential::ChatMessage(message.id.clone()),
    )
    .await?;
    // The press came with a credential (an API key, perhaps narrowed to a
    // few permissions): the commands run with no more than it holds.
    runner.permissions = runner
        .permissions
        .intersection(&actor.permissions)
        .copied()
        .collect();
    let (sender, engine, parse_ctx) = engine_for(ctx, runner).await?;
    let reply = match action {
        ButtonAction::Cancel => Reply::text("Cancelled."),
        ButtonAction::Run(commands) => Box::pin(engine.run(&sender, commands, &parse_ctx)).await,
    };
    post_reply(ctx, &sender, &message.room, &message.id, reply).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mention_of_the_bot_is_for_the_bot_and_is_left_out_of_the_words() {
        assert!(is_for_bot("@bot log a call with Acme"));
        assert!(is_for_bot("/due"));
        assert!(!is_for_bot("ask the bot@example.com"));
        assert!(!is_for_bot("@maria call Acme"));
        assert_eq!(
            without_bot_mention("@bot, log a call with Acme"),
            "log a call with Acme"
        );
    }
}
