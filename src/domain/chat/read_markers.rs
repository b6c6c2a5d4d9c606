//! Read markers: how far each member has read each room, kept in the
//! database so unread counts and the "new messages" line follow a person
//! from one device to another.
//!
//! A marker is written when a client reports what its user has seen, never
//! per delivered message (the send path stays free of it), and it only
//! rises: a second device reporting an older position changes nothing.
//! Every device of the user hears of a new position (`room.read`), so a
//! badge falls everywhere at once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::rooms;
use crate::domain::actor::Actor;
use crate::domain::clock::db_time;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::events::{Audience, Event};
use crate::domain::Ctx;

pub const READ_TOPIC: &str = "room.read";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadMarker {
    pub room: String,
    /// The highest sequence number the user has seen in the room.
    pub seq: i64,
    pub updated_at: DateTime<Utc>,
}

fn key(room: &str, user: &str) -> String {
    format!("{room}:{user}")
}

/// Records that the actor has read `room` up to `seq` (clamped to the
/// room's newest message). Returns the stored marker, which is the higher
/// of this and any earlier report.
#[tracing::instrument(skip(ctx, actor), fields(actor = %actor.user_id))]
pub async fn mark(ctx: &Ctx, actor: &Actor, room_id: &str, seq: i64) -> DomainResult<ReadMarker> {
    if seq < 0 {
        return Err(DomainError::invalid("seq", "must be 0 or more"));
    }
    let room = rooms::require_member(ctx, actor, room_id).await?;
    let seq = seq.min(room.last_seq);
    let marker: ReadMarker = ctx
        .store
        .run(
            "UPSERT ONLY type::record('room_read', $key) SET room = $room, user = $user,
                seq = math::max([seq ?? 0, $seq]), updated_at = <datetime>$now
             RETURN room, seq, updated_at",
            json!({
                "key": key(&room.id, &actor.user_id),
                "room": room.id,
                "user": actor.user_id,
                "seq": seq,
                "now": db_time(ctx.now()),
            }),
        )
        .await?
        .first(0)?
        .ok_or(DomainError::NotFound("room"))?;
    ctx.events.publish(Event::new(
        READ_TOPIC,
        Audience::Users(vec![actor.user_id.clone()]),
        json!({"room": marker.room, "seq": marker.seq}),
    ));
    Ok(marker)
}
