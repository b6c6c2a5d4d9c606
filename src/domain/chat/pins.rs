//! Pins: messages a room keeps at hand. Any member may pin; unpinning
//! someone else's pin takes `chat.moderate`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{messages, rooms};
use crate::domain::actor::Actor;
use crate::domain::audit;
use crate::domain::clock::db_time;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::events::{Audience, Event};
use crate::domain::permissions::Permission;
use crate::domain::Ctx;
use crate::store::{StoreError, Transaction};

pub const CHANGED_TOPIC: &str = "pins.changed";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pin {
    pub room: String,
    pub message: String,
    pub pinned_by: String,
    pub pinned_at: DateTime<Utc>,
}

pub async fn pin(ctx: &Ctx, actor: &Actor, message_id: &str) -> DomainResult<Pin> {
    super::require_chat(ctx, actor)?;
    let message = messages::get(ctx, actor, message_id).await?;
    if message.deleted_at.is_some() {
        return Err(DomainError::Conflict("the message was deleted".into()));
    }
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("room", &message.room)
        .bind("message", &message.id)
        .bind("user", &actor.user_id)
        .bind("now", db_time(now));
    tx.push(
        "CREATE pin SET room = $room, message = $message, pinned_by = $user, pinned_at = <datetime>$now",
    );
    audit::record(&mut tx, actor, "message", &message.id, "pin", &[], now);
    match tx.commit(&ctx.store).await {
        // Pinned already (perhaps by someone else at the same moment).
        Ok(_) | Err(StoreError::Duplicate(_)) => {}
        Err(e) => return Err(e.into()),
    }
    announce(ctx, &message.room);
    find(ctx, &message.room, &message.id)
        .await?
        .ok_or(DomainError::NotFound("pin"))
}

pub async fn unpin(ctx: &Ctx, actor: &Actor, message_id: &str) -> DomainResult<()> {
    super::require_chat(ctx, actor)?;
    let message = messages::get(ctx, actor, message_id).await?;
    let pin = find(ctx, &message.room, &message.id)
        .await?
        .ok_or(DomainError::NotFound("pin"))?;
    if pin.pinned_by != actor.user_id {
        actor.require(Permission::ChatModerate)?;
    }
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("room", &message.room).bind("message", &message.id);
    tx.push("DELETE pin WHERE room = $room AND message = $message");
    audit::record(&mut tx, actor, "message", &message.id, "unpin", &[], now);
    tx.commit(&ctx.store).await?;
    announce(ctx, &message.room);
    Ok(())
}

/// A room's pins, newest first.
pub async fn list(ctx: &Ctx, actor: &Actor, room: &str) -> DomainResult<Vec<Pin>> {
    rooms::require_membership(ctx, actor, room).await?;
    Ok(ctx
        .store
        .run(
            "SELECT room, message, pinned_by, pinned_at FROM pin WHERE room = $room ORDER BY pinned_at DESC LIMIT 200",
            json!({"room": room}),
        )
        .await?
        .rows(0)?)
}

async fn find(ctx: &Ctx, room: &str, message: &str) -> DomainResult<Option<Pin>> {
    Ok(ctx
        .store
        .run(
            "SELECT room, message, pinned_by, pinned_at FROM pin WHERE room = $room AND message = $message LIMIT 1",
            json!({"room": room, "message": message}),
        )
        .await?
        .first(0)?)
}

fn announce(ctx: &Ctx, room: &str) {
    ctx.events.publish(Event::new(
        CHANGED_TOPIC,
        Audience::Room(room.to_string()),
        json!({"room": room}),
    ));
}
