//! Bridges: an admin mirrors a hub room to a Telegram chat, so the team
//! talks in one conversation from both places.
//!
//! Promises: only `bots.manage` creates or removes bridges; a chat is
//! bridged to at most one room (unique index), so a message from it has
//! exactly one destination. Mirroring itself is the adapters' job: what
//! comes in is stored as a bot-authored message naming the sender and the
//! platform, and bot-authored messages are never mirrored out, which is
//! what keeps a message from travelling in a loop.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::actor::Actor;
use super::audit::{self, FieldChange};
use super::chat::rooms;
use super::clock::db_time;
use super::error::{DomainError, DomainResult};
use super::permissions::Permission;
use super::{tokens, Ctx};
use crate::store::{StoreError, Transaction};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Bridge {
    pub id: String,
    pub room: String,
    pub platform: String,
    /// The platform's chat or channel id, as text.
    pub chat_id: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// Platforms a room can be bridged to today.
pub const BRIDGE_PLATFORMS: &[&str] = &["telegram"];

const SELECT_BRIDGE: &str = "SELECT *, record::id(id) AS id FROM";

fn parse_chat_id(platform: &str, raw: &str) -> DomainResult<String> {
    let raw = raw.trim();
    match platform {
        // Telegram chat ids are integers; groups and channels are negative.
        "telegram" if raw.parse::<i64>().is_ok() => Ok(raw.to_string()),
        "telegram" => Err(DomainError::invalid(
            "chat_id",
            "must be a Telegram chat id (an integer)",
        )),
        _ => Err(DomainError::invalid("platform", "use telegram")),
    }
}

pub async fn create(
    ctx: &Ctx,
    actor: &Actor,
    room_id: &str,
    platform: &str,
    chat_id: &str,
) -> DomainResult<Bridge> {
    actor.require(Permission::BotsManage)?;
    let platform = platform.trim().to_ascii_lowercase();
    if !BRIDGE_PLATFORMS.contains(&platform.as_str()) {
        return Err(DomainError::invalid("platform", "use telegram"));
    }
    let chat_id = parse_chat_id(&platform, chat_id)?;
    let room = rooms::find(ctx, room_id)
        .await?
        .ok_or(DomainError::NotFound("room"))?;
    let bridge = Bridge {
        id: tokens::new_id(),
        room: room.id,
        platform,
        chat_id,
        created_by: actor.user_id.clone(),
        created_at: ctx.now(),
    };
    let mut tx = Transaction::new();
    tx.bind("id", &bridge.id)
        .bind("room", &bridge.room)
        .bind("platform", &bridge.platform)
        .bind("chat", &bridge.chat_id)
        .bind("by", &bridge.created_by)
        .bind("now", db_time(bridge.created_at));
    tx.push(
        "CREATE type::record('bridge', $id) SET room = $room, platform = $platform,
            chat_id = $chat, created_by = $by, created_at = <datetime>$now",
    );
    let changes = audit::created(&json!({
        "room": bridge.room, "platform": bridge.platform, "chat_id": bridge.chat_id
    }));
    audit::record(
        &mut tx,
        actor,
        "bridge",
        &bridge.id,
        "create",
        &changes,
        bridge.created_at,
    );
    match tx.commit(&ctx.store).await {
        Ok(_) => Ok(bridge),
        Err(StoreError::Duplicate(_)) => Err(DomainError::Conflict(
            "that chat is already bridged to a room".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

pub async fn list(ctx: &Ctx, actor: &Actor) -> DomainResult<Vec<Bridge>> {
    actor.require(Permission::BotsManage)?;
    Ok(ctx
        .store
        .run(
            &format!("{SELECT_BRIDGE} bridge ORDER BY created_at"),
            json!({}),
        )
        .await?
        .rows(0)?)
}

pub async fn delete(ctx: &Ctx, actor: &Actor, id: &str) -> DomainResult<()> {
    actor.require(Permission::BotsManage)?;
    let found: Option<Bridge> = ctx
        .store
        .run(
            &format!("{SELECT_BRIDGE} ONLY type::record('bridge', $id)"),
            json!({"id": id}),
        )
        .await?
        .first(0)?;
    let bridge = found.ok_or(DomainError::NotFound("bridge"))?;
    let mut tx = Transaction::new();
    tx.bind("id", &bridge.id);
    tx.push("DELETE type::record('bridge', $id)");
    let changes = vec![FieldChange::new(
        "chat_id",
        Some(json!(bridge.chat_id)),
        None,
    )];
    audit::record(
        &mut tx,
        actor,
        "bridge",
        &bridge.id,
        "delete",
        &changes,
        ctx.now(),
    );
    tx.commit(&ctx.store).await?;
    Ok(())
}

/// The bridges of a room, for mirroring its messages out.
pub async fn of_room(ctx: &Ctx, room: &str) -> DomainResult<Vec<Bridge>> {
    Ok(ctx
        .store
        .run(
            &format!("{SELECT_BRIDGE} bridge WHERE room = $room"),
            json!({"room": room}),
        )
        .await?
        .rows(0)?)
}

/// The room a platform chat is bridged to, for mirroring its messages in.
pub async fn of_chat(ctx: &Ctx, platform: &str, chat_id: &str) -> DomainResult<Option<Bridge>> {
    Ok(ctx
        .store
        .run(
            &format!(
                "{SELECT_BRIDGE} bridge WHERE platform = $platform AND chat_id = $chat LIMIT 1"
            ),
            json!({"platform": platform, "chat": chat_id}),
        )
        .await?
        .first(0)?)
}
