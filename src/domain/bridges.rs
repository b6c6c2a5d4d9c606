//! Bridges: an admin mirrors a hub room to a Telegram chat or a Discord
//! channel, so the team talks in one conversation from both places.
//!
//! Promises: only `bots.manage` creates or removes bridges, and only for a
//! channel or group the actor is a member of (a direct room is never
//! bridged, and a private room the actor is not in is not found); a chat is
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
pub const BRIDGE_PLATFORMS: &[&str] = &["telegram", "discord"];

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
        // Discord ids are snowflakes: unsigned 64-bit integers.
        "discord" if raw.parse::<u64>().is_ok_and(|id| id > 0) => Ok(raw.to_string()),
        "discord" => Err(DomainError::invalid(
            "chat_id",
            "must be a Discord channel id (a number)",
        )),
        _ => Err(DomainError::invalid("platform", "use telegram or discord")),
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
        return Err(DomainError::invalid("platform", "use telegram or discord"));
    }
    let chat_id = parse_chat_id(&platform, chat_id)?;
    // Mirroring out hands a room's text to whoever is in the chat: only a
    // member may do that, and never with a conversation between two people.
    let room = rooms::require_member(ctx, actor, room_id).await?;
    if room.kind == rooms::RoomKind::Direct {
        return Err(DomainError::invalid(
            "room",
            "a direct room cannot be bridged",
        ));
    }
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

/// The bridges to one platform, for reading what their chats said while
/// the bot was away.
pub async fn of_platform(ctx: &Ctx, platform: &str) -> DomainResult<Vec<Bridge>> {
    Ok(ctx
        .store
        .run(
            &format!("{SELECT_BRIDGE} bridge WHERE platform = $platform"),
            json!({"platform": platform}),
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

/// A hub message and the platform message it is on the other side of a
/// bridge (sent out by the bot, or mirrored in from the platform).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MirroredMessage {
    /// The hub message id.
    pub message: String,
    pub platform: String,
    pub chat_id: String,
    pub platform_message_id: String,
    /// The text last sent or received, to tell an edit from a reaction.
    pub body: String,
}

/// Remembers that hub message `message` is `platform_message_id` in the
/// bridged chat, so its edits and deletes can follow.
pub async fn remember_mirror(ctx: &Ctx, mirror: &MirroredMessage) -> DomainResult<()> {
    ctx.store
        .run(
            "CREATE bridged_message SET message = $message, platform = $platform,
                chat_id = $chat, platform_message_id = $pmid, body = $body,
                created_at = <datetime>$now",
            json!({
                "message": mirror.message,
                "platform": mirror.platform,
                "chat": mirror.chat_id,
                "pmid": mirror.platform_message_id,
                "body": mirror.body,
                "now": db_time(ctx.now()),
            }),
        )
        .await?;
    Ok(())
}

/// As `remember_mirror`, inside `tx` (the outbox records a sent message
/// and what it became in one transaction).
pub fn push_mirror(tx: &mut Transaction, mirror: &MirroredMessage, now: DateTime<Utc>) {
    let n = tx.next_serial();
    tx.bind(
        &format!("mirror_{n}"),
        json!({
            "message": mirror.message,
            "platform": mirror.platform,
            "chat": mirror.chat_id,
            "pmid": mirror.platform_message_id,
            "body": mirror.body,
            "now": db_time(now),
        }),
    );
    tx.push(format!(
        "CREATE bridged_message SET message = $mirror_{n}.message,
            platform = $mirror_{n}.platform, chat_id = $mirror_{n}.chat,
            platform_message_id = $mirror_{n}.pmid, body = $mirror_{n}.body,
            created_at = <datetime>$mirror_{n}.now"
    ));
}

const SELECT_MIRROR: &str =
    "SELECT message, platform, chat_id, platform_message_id, body FROM bridged_message";

/// Where a hub message was mirrored to.
pub async fn mirrors_of_message(ctx: &Ctx, message: &str) -> DomainResult<Vec<MirroredMessage>> {
    Ok(ctx
        .store
        .run(
            &format!("{SELECT_MIRROR} WHERE message = $message"),
            json!({"message": message}),
        )
        .await?
        .rows(0)?)
}

/// The hub message a platform message is mirrored as, if any.
pub async fn mirror_of_platform_message(
    ctx: &Ctx,
    platform: &str,
    chat_id: &str,
    platform_message_id: &str,
) -> DomainResult<Option<MirroredMessage>> {
    Ok(ctx
        .store
        .run(
            &format!(
                "{SELECT_MIRROR} WHERE platform = $platform AND chat_id = $chat
                    AND platform_message_id = $pmid LIMIT 1"
            ),
            json!({"platform": platform, "chat": chat_id, "pmid": platform_message_id}),
        )
        .await?
        .first(0)?)
}

/// Records the text now on both sides of a mirrored message.
pub async fn update_mirror_body(
    ctx: &Ctx,
    mirror: &MirroredMessage,
    body: &str,
) -> DomainResult<()> {
    ctx.store
        .run(
            "UPDATE bridged_message SET body = $body WHERE platform = $platform
                AND chat_id = $chat AND platform_message_id = $pmid",
            json!({
                "body": body,
                "platform": mirror.platform,
                "chat": mirror.chat_id,
                "pmid": mirror.platform_message_id,
            }),
        )
        .await?;
    Ok(())
}

/// What a hub message says on a bridged platform: sender and platform,
/// the text, and a shared file as a link (with `public_base_url`) or by
/// its name.
pub fn outgoing_text(
    message: &super::chat::messages::Message,
    file_name: Option<&str>,
    public_base_url: Option<&str>,
) -> String {
    let mut text = format!("{} (web): {}", message.author_name, message.body);
    if let Some(file) = &message.file {
        let name = file_name.unwrap_or("a file");
        let shared = match public_base_url {
            Some(base) => format!(
                "📎 {name}: {}/api/v1/files/{file}",
                base.trim_end_matches('/')
            ),
            None => format!("📎 shared {name} in the hub room"),
        };
        if message.body.is_empty() {
            text = format!("{} (web): {shared}", message.author_name);
        } else {
            text.push('\n');
            text.push_str(&shared);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::chat::messages::Message;

    fn message(body: &str, file: Option<&str>) -> Message {
        Message {
            id: "m1".into(),
            room: "r1".into(),
            seq: 1,
            author: "u1".into(),
            author_name: "maria".into(),
            body: body.into(),
            reply_to: None,
            file: file.map(str::to_string),
            reactions: vec![],
            created_at: Utc::now(),
            edited_at: None,
            deleted_at: None,
            actions: None,
        }
    }

    #[test]
    fn a_shared_file_goes_out_as_a_link_or_by_its_name() {
        let shared = message("the quote", Some("f1"));
        assert_eq!(
            outgoing_text(&shared, Some("quote.pdf"), Some("https://crm.example.com/")),
            "maria (web): the quote\n📎 quote.pdf: https://crm.example.com/api/v1/files/f1"
        );
        assert_eq!(
            outgoing_text(&message("", Some("f1")), Some("quote.pdf"), None),
            "maria (web): 📎 shared quote.pdf in the hub room"
        );
        assert_eq!(
            outgoing_text(&message("hi", None), None, None),
            "maria (web): hi"
        );
    }

    #[test]
    fn discord_channel_ids_are_snowflakes() {
        assert!(parse_chat_id("discord", "123456789012345678").is_ok());
        assert!(parse_chat_id("discord", "general").is_err());
        assert!(parse_chat_id("discord", "0").is_err());
        assert!(parse_chat_id("telegram", "-100").is_ok());
    }
}
