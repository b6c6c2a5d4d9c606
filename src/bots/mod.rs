//! The bots' side of the root crate: the `bots::Crm` implementation over
//! the domain, the platform adapters (Telegram, Discord, the web chat's
//! slash commands), parked confirmations and the bots' status.
//!
//! Adapters only translate: a platform update becomes a `bots::Sender` and
//! text for `bots::Engine`; a `bots::Reply` becomes a platform message.

pub mod bridging;
pub mod crm_adapter;
pub mod direct;
pub mod discord;
pub mod lanes;
pub mod outbox;
pub mod status;
pub mod telegram;
pub mod web_chat;

use std::sync::Arc;

use bots::{ButtonAction, Engine, ParseContext, Platform, Reply, Sender};
use chrono::Duration;
use serde_json::json;

use crate::domain::clock::db_time;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::features::{self, Feature};
use crate::domain::{links, tokens, Ctx};
pub use crm_adapter::DomainCrm;

/// How long a confirm button works before its commands are forgotten.
pub const ACTION_TTL: Duration = Duration::hours(24);

/// Runs one chat message as the linked account (if any) and returns what
/// the bot says, or `None` to stay silent.
pub async fn handle_text(
    ctx: &Arc<Ctx>,
    platform: Platform,
    platform_user_id: &str,
    text: &str,
    bot_username: Option<&str>,
) -> DomainResult<Option<Reply>> {
    if let Err(e) = platform_on(ctx, platform) {
        return told_why(e);
    }
    let (sender, engine) = match sender_and_engine(ctx, platform, platform_user_id).await {
        Ok(found) => found,
        Err(e) => return told_why(e),
    };
    let parse_ctx = parse_context(ctx, &sender, bot_username);
    // Boxed: the engine's future holds every domain call a command may make;
    // inline, it grows each caller's future and, in debug builds, the stack
    // of the thread that polls it (a test thread overflowed its 2 MiB).
    Ok(Box::pin(engine.handle(&sender, text, &parse_ctx)).await)
}

/// Runs the commands behind a pressed button, if the button is still
/// parked for this account; `None` when it expired or belongs to someone
/// else.
pub async fn press_button(
    ctx: &Arc<Ctx>,
    platform: Platform,
    platform_user_id: &str,
    key: &str,
    bot_username: Option<&str>,
) -> DomainResult<Option<Reply>> {
    if let Err(e) = platform_on(ctx, platform) {
        return told_why(e);
    }
    let Some(action) = take_action(ctx, platform, platform_user_id, key).await? else {
        return Ok(None);
    };
    Ok(Some(match action {
        ButtonAction::Cancel => Reply::text("Cancelled."),
        ButtonAction::Run(commands) => {
            let (sender, engine) = match sender_and_engine(ctx, platform, platform_user_id).await {
                Ok(found) => found,
                Err(e) => return told_why(e),
            };
            let parse_ctx = parse_context(ctx, &sender, bot_username);
            Box::pin(engine.run(&sender, commands, &parse_ctx)).await
        }
    }))
}

/// The switch of a platform's bot: the Telegram and Discord bots have
/// their own, the web chat's bot is part of the chat.
pub fn feature_of(platform: Platform) -> Feature {
    match platform {
        Platform::Telegram => Feature::Telegram,
        Platform::Discord => Feature::Discord,
        Platform::Web => Feature::Chat,
    }
}

/// Refuses while the platform's bot is switched off. Someone who writes to
/// a switched-off bot (a command, a direct message, a mention: never the
/// group's own chatter, which the adapters do not pass on) is told so
/// rather than met with silence, which would look like an outage.
fn platform_on(ctx: &Ctx, platform: Platform) -> DomainResult<()> {
    features::require(ctx, feature_of(platform))
}

/// A refusal the person can act on (the service is closed for maintenance,
/// the bot is switched off) becomes the bot's answer; anything else stays
/// an error for the log.
fn told_why(e: DomainError) -> DomainResult<Option<Reply>> {
    match e {
        DomainError::Maintenance { .. } => Ok(Some(Reply::text(e.to_string()))),
        DomainError::FeatureDisabled { name, .. } => Ok(Some(Reply::text(format!(
            "{name} is switched off by an admin."
        )))),
        other => Err(other),
    }
}

async fn sender_and_engine(
    ctx: &Arc<Ctx>,
    platform: Platform,
    platform_user_id: &str,
) -> DomainResult<(Sender, Engine<DomainCrm>)> {
    let actor = links::actor_of_account(ctx, platform.as_str(), platform_user_id).await?;
    let chat_actor = match &actor {
        Some(a) => Some(crm_adapter::chat_actor(ctx, a).await?),
        None => None,
    };
    let sender = Sender {
        platform,
        platform_user_id: platform_user_id.to_string(),
        actor: chat_actor,
    };
    Ok((sender, Engine::new(DomainCrm::new(ctx.clone(), actor))))
}

fn parse_context(ctx: &Ctx, sender: &Sender, bot_username: Option<&str>) -> ParseContext {
    ParseContext {
        now: ctx.now(),
        timezone: sender
            .actor
            .as_ref()
            .map(|a| a.timezone)
            .unwrap_or(chrono_tz::UTC),
        bot_username: bot_username.map(str::to_string),
    }
}

/// Parks a button's action server-side and returns the short key the
/// button carries (Telegram callback data is at most 64 bytes).
pub async fn park_action(
    ctx: &Ctx,
    platform: Platform,
    platform_user_id: &str,
    action: &ButtonAction,
) -> DomainResult<String> {
    let key = tokens::new_id();
    let action = serde_json::to_string(action)
        .map_err(|e| DomainError::Internal(format!("cannot store a button: {e}")))?;
    let now = ctx.now();
    ctx.store
        .run(
            "DELETE bot_action WHERE expires_at <= <datetime>$now;
             CREATE type::record('bot_action', $key) SET platform = $platform,
                platform_user_id = $puid, action = $action, expires_at = <datetime>$expires",
            json!({
                "key": key,
                "platform": platform.as_str(),
                "puid": platform_user_id,
                "action": action,
                "now": db_time(now),
                "expires": db_time(now + ACTION_TTL),
            }),
        )
        .await?;
    Ok(key)
}

/// Takes a parked action once: the delete returns the row only to the
/// first press, so a double tap does not run the commands twice.
pub(crate) async fn take_action(
    ctx: &Ctx,
    platform: Platform,
    platform_user_id: &str,
    key: &str,
) -> DomainResult<Option<ButtonAction>> {
    let row: Option<serde_json::Value> = ctx
        .store
        .run(
            "DELETE type::record('bot_action', $key)
                WHERE platform = $platform AND platform_user_id = $puid
                AND expires_at > <datetime>$now RETURN BEFORE",
            json!({
                "key": key,
                "platform": platform.as_str(),
                "puid": platform_user_id,
                "now": db_time(ctx.now()),
            }),
        )
        .await?
        .first(0)?;
    Ok(row
        .as_ref()
        .and_then(|r| r["action"].as_str())
        .and_then(|a| serde_json::from_str(a).ok()))
}
