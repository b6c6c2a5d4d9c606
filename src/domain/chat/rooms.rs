//! Rooms: public channels anyone may join, private groups by invitation,
//! and direct rooms between two people. Membership decides who reads a
//! room; a room may discuss a CRM record (`subject_kind`/`subject_id`),
//! and only a lead its creator may read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::actor::Actor;
use crate::domain::audit::{self, FieldChange};
use crate::domain::clock::db_time;
use crate::domain::crm::leads;
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::permissions::Permission;
use crate::domain::{tokens, users, Ctx};
use crate::store::{StoreError, Transaction};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoomKind {
    /// Public: listed for everyone, anyone with `chat.use` may join.
    Channel,
    /// Private: members add members.
    Group,
    /// Two people; one room per pair.
    Direct,
}

impl RoomKind {
    pub fn parse(raw: &str) -> DomainResult<RoomKind> {
        match raw {
            "channel" => Ok(RoomKind::Channel),
            "group" => Ok(RoomKind::Group),
            "direct" => Ok(RoomKind::Direct),
            _ => Err(DomainError::invalid(
                "kind",
                "must be channel, group or direct",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RoomKind::Channel => "channel",
            RoomKind::Group => "group",
            RoomKind::Direct => "direct",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Room {
    pub id: String,
    pub name: String,
    pub kind: RoomKind,
    pub topic: Option<String>,
    pub subject_kind: Option<String>,
    pub subject_id: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// The sequence number of the newest message (0: none yet).
    pub last_seq: i64,
    /// A direct room's two user ids, sorted and joined by `:`.
    #[serde(default)]
    pub direct_key: Option<String>,
}

/// A room as listed for one user: whether they are in it.
#[derive(Debug, Clone, Serialize)]
pub struct ListedRoom {
    #[serde(flatten)]
    pub room: Room,
    pub joined: bool,
    /// The highest sequence number this user has read here (see
    /// `read_markers`; 0 when nothing yet).
    pub last_read: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    pub user: String,
    pub role: String,
    pub joined_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct NewRoom {
    pub name: String,
    pub kind: String,
    pub topic: Option<String>,
    pub subject_kind: Option<String>,
    pub subject_id: Option<String>,
    /// Other members by user id (for a direct room: exactly one).
    pub members: Vec<String>,
}

pub const OWNER: &str = "owner";
pub const MEMBER: &str = "member";

const SELECT_ROOM_COLUMNS: &str = "SELECT *, record::id(id) AS id";
const SELECT_ROOM: &str = "SELECT *, record::id(id) AS id FROM";

fn optional_text(
    field: &'static str,
    value: Option<String>,
    max: usize,
) -> DomainResult<Option<String>> {
    let value = value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
    if value.as_ref().is_some_and(|v| v.chars().count() > max) {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(value)
}

#[tracing::instrument(skip(ctx, actor, input), fields(actor = %actor.user_id))]
pub async fn create(ctx: &Ctx, actor: &Actor, input: NewRoom) -> DomainResult<Room> {
    super::require_chat(ctx, actor)?;
    let kind = RoomKind::parse(input.kind.trim())?;
    let topic = optional_text("topic", input.topic, 300)?;
    let subject_kind = optional_text("subject_kind", input.subject_kind, 40)?;
    let subject_id = optional_text("subject_id", input.subject_id, 100)?;
    if subject_kind.is_some() != subject_id.is_some() {
        return Err(DomainError::invalid(
            "subject_id",
            "subject_kind and subject_id go together",
        ));
    }
    // A room about a lead shows on that lead's timeline: only someone who
    // may read the lead attaches one to it.
    if let (Some("lead"), Some(lead)) = (subject_kind.as_deref(), subject_id.as_deref()) {
        match leads::load_visible(ctx, actor, lead, false).await {
            Ok(_) => {}
            Err(DomainError::NotFound(_)) => {
                return Err(DomainError::invalid(
                    "subject_id",
                    "no lead you can see has that id",
                ))
            }
            Err(e) => return Err(e),
        }
    }
    let mut members: Vec<String> = input
        .members
        .iter()
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty() && *m != actor.user_id)
        .collect();
    members.sort();
    members.dedup();
    if members.len() > 500 {
        return Err(DomainError::invalid("members", "at most 500 at once"));
    }
    for member in &members {
        let found = users::find_record(ctx, member).await?;
        if !found.is_some_and(|r| r.user.active) {
            return Err(DomainError::invalid(
                "members",
                format!("no active user `{member}`"),
            ));
        }
    }
    let (name, direct_key) = match kind {
        RoomKind::Direct => {
            let [other] = members.as_slice() else {
                return Err(DomainError::invalid(
                    "members",
                    "a direct room has exactly one other member",
                ));
            };
            let mut pair = [actor.user_id.clone(), other.clone()];
            pair.sort();
            let key = pair.join(":");
            if let Some(existing) = find_direct(ctx, &key).await? {
                return Ok(existing);
            }
            (String::new(), Some(key))
        }
        _ => {
            let name = input.name.trim().to_string();
            if name.is_empty() || name.chars().count() > 80 {
                return Err(DomainError::invalid("name", "must be 1 to 80 characters"));
            }
            (name, None)
        }
    };

    let id = tokens::new_id();
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("id", &id)
        .bind("name", &name)
        .bind("kind", kind.as_str())
        .bind("topic", &topic)
        .bind("subject_kind", &subject_kind)
        .bind("subject_id", &subject_id)
        .bind("direct_key", &direct_key)
        .bind("creator", &actor.user_id)
        .bind("members", &members)
        .bind("now", db_time(now));
    tx.push(
        "CREATE type::record('room', $id) SET name = $name, kind = $kind, topic = $topic,
            subject_kind = $subject_kind, subject_id = $subject_id, direct_key = $direct_key,
            created_by = $creator, created_at = <datetime>$now, last_seq = 0",
    );
    tx.push(
        "CREATE room_member SET room = $id, user = $creator, role = 'owner', joined_at = <datetime>$now",
    );
    tx.push(
        "FOR $member IN $members {
            CREATE room_member SET room = $id, user = $member, role = 'member', joined_at = <datetime>$now;
        }",
    );
    let changes = vec![
        FieldChange::new("name", None, Some(json!(name))),
        FieldChange::new("kind", None, Some(json!(kind.as_str()))),
        FieldChange::new("members", None, Some(json!(members))),
    ];
    audit::record(&mut tx, actor, "room", &id, "create", &changes, now);
    match tx.commit(&ctx.store).await {
        Ok(_) => {}
        // Both people opened their direct room at once: the other one won.
        Err(StoreError::Duplicate(_)) if direct_key.is_some() => {
            if let Some(existing) = find_direct(ctx, direct_key.as_deref().unwrap_or("")).await? {
                return Ok(existing);
            }
            return Err(DomainError::Conflict(
                "the room was created at the same time".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    find(ctx, &id).await?.ok_or(DomainError::NotFound("room"))
}

async fn find_direct(ctx: &Ctx, key: &str) -> DomainResult<Option<Room>> {
    Ok(ctx
        .store
        .run(
            &format!("{SELECT_ROOM} room WHERE direct_key = $key LIMIT 1"),
            json!({"key": key}),
        )
        .await?
        .first(0)?)
}

/// A room by id, without any access check: for the modules of this hub.
pub(crate) async fn find(ctx: &Ctx, id: &str) -> DomainResult<Option<Room>> {
    Ok(ctx
        .store
        .run(
            &format!("{SELECT_ROOM} ONLY type::record('room', $id)"),
            json!({"id": id}),
        )
        .await?
        .first(0)?)
}

/// A user's membership of a room, if they have one and are active: a
/// deactivated user keeps their rows (and has their rooms back when
/// reactivated) but is called to nothing meanwhile.
pub(crate) async fn membership(ctx: &Ctx, room: &str, user: &str) -> DomainResult<Option<Member>> {
    Ok(ctx
        .store
        .run(
            "SELECT user, role, joined_at FROM room_member WHERE room = $room AND user = $user
                AND type::record('user', $user).active = true LIMIT 1",
            json!({"room": room, "user": user}),
        )
        .await?
        .first(0)?)
}

/// The room, if the actor is one of its members. Anyone else is told it
/// does not exist, so private rooms do not reveal themselves. One query:
/// every send passes here.
pub async fn require_member(ctx: &Ctx, actor: &Actor, room_id: &str) -> DomainResult<Room> {
    #[derive(Deserialize)]
    struct RoomAndMembership {
        #[serde(flatten)]
        room: Room,
        role: Option<String>,
    }
    super::require_chat(ctx, actor)?;
    let found: Option<RoomAndMembership> = ctx
        .store
        .run(
            &format!(
                "{SELECT_ROOM_COLUMNS}, (SELECT VALUE role FROM room_member
                    WHERE room = $id AND user = $user LIMIT 1)[0] AS role
                 FROM ONLY type::record('room', $id)"
            ),
            json!({"id": room_id, "user": actor.user_id}),
        )
        .await?
        .first(0)?;
    match found {
        Some(RoomAndMembership {
            room,
            role: Some(_),
        }) => {
            ctx.known_members.remember(&room.id, &actor.user_id);
            Ok(room)
        }
        _ => Err(DomainError::NotFound("room")),
    }
}

/// `require_member` for a caller that needs only the answer: a membership
/// this instance has seen costs no query (see `known_members`).
pub async fn require_membership(ctx: &Ctx, actor: &Actor, room_id: &str) -> DomainResult<()> {
    super::require_chat(ctx, actor)?;
    if ctx.known_members.contains(room_id, &actor.user_id) {
        return Ok(());
    }
    require_member(ctx, actor, room_id).await.map(|_| ())
}

pub async fn get(ctx: &Ctx, actor: &Actor, room_id: &str) -> DomainResult<Room> {
    require_member(ctx, actor, room_id).await
}

/// The rooms the actor is in, plus every public channel (to join),
/// channels first, then by name.
pub async fn list(ctx: &Ctx, actor: &Actor) -> DomainResult<Vec<ListedRoom>> {
    super::require_chat(ctx, actor)?;
    let results = ctx
        .store
        .run(
            &format!(
                "LET $mine = (SELECT VALUE room FROM room_member WHERE user = $user);
                 {SELECT_ROOM} array::map($mine, |$r| type::record('room', $r));
                 {SELECT_ROOM} room WHERE kind = 'channel' ORDER BY name LIMIT 1000;
                 SELECT room, seq FROM room_read WHERE user = $user;"
            ),
            json!({"user": actor.user_id}),
        )
        .await?;
    let mine: Vec<Room> = results.rows(1)?;
    let channels: Vec<Room> = results.rows(2)?;
    #[derive(Deserialize)]
    struct Marker {
        room: String,
        seq: i64,
    }
    let read: std::collections::HashMap<String, i64> = results
        .rows::<Marker>(3)?
        .into_iter()
        .map(|m| (m.room, m.seq))
        .collect();
    let mut listed: Vec<ListedRoom> = mine
        .into_iter()
        .map(|room| ListedRoom {
            last_read: read.get(&room.id).copied().unwrap_or(0),
            room,
            joined: true,
        })
        .collect();
    for room in channels {
        if !listed.iter().any(|l| l.room.id == room.id) {
            listed.push(ListedRoom {
                room,
                joined: false,
                last_read: 0,
            });
        }
    }
    listed.sort_by(|a, b| {
        (a.room.kind != RoomKind::Channel, &a.room.name)
            .cmp(&(b.room.kind != RoomKind::Channel, &b.room.name))
    });
    Ok(listed)
}

/// Joins a public channel; joining twice is harmless.
pub async fn join(ctx: &Ctx, actor: &Actor, room_id: &str) -> DomainResult<Room> {
    super::require_chat(ctx, actor)?;
    let room = find(ctx, room_id)
        .await?
        .ok_or(DomainError::NotFound("room"))?;
    if membership(ctx, room_id, &actor.user_id).await?.is_some() {
        return Ok(room);
    }
    if room.kind != RoomKind::Channel {
        return Err(DomainError::NotFound("room"));
    }
    add(ctx, actor, &room, &actor.user_id).await?;
    Ok(room)
}

/// Adds someone to a channel or group: its owner, any member of a group,
/// or a moderator. Direct rooms keep their two people.
pub async fn add_member(
    ctx: &Ctx,
    actor: &Actor,
    room_id: &str,
    user_id: &str,
) -> DomainResult<()> {
    let room = require_member(ctx, actor, room_id).await?;
    if room.kind == RoomKind::Direct {
        return Err(DomainError::invalid(
            "room",
            "a direct room cannot take more people",
        ));
    }
    if room.kind == RoomKind::Channel && room.created_by != actor.user_id {
        actor.require(Permission::ChatModerate)?;
    }
    let found = users::find_record(ctx, user_id).await?;
    if !found.is_some_and(|r| r.user.active) {
        return Err(DomainError::NotFound("user"));
    }
    if membership(ctx, room_id, user_id).await?.is_some() {
        return Ok(());
    }
    add(ctx, actor, &room, user_id).await
}

/// Told to every instance when someone leaves a room or is removed (the
/// hub stops delivering the room to them; `known_members` forgets).
pub const MEMBER_REMOVED_TOPIC: &str = "room.member_removed";

/// Takes someone out of a channel or group: anyone may leave; removing
/// someone else takes the room's creator or a moderator. A direct room
/// keeps its two people.
#[tracing::instrument(skip(ctx, actor), fields(actor = %actor.user_id))]
pub async fn remove_member(
    ctx: &Ctx,
    actor: &Actor,
    room_id: &str,
    user_id: &str,
) -> DomainResult<()> {
    let room = require_member(ctx, actor, room_id).await?;
    if room.kind == RoomKind::Direct {
        return Err(DomainError::invalid(
            "room",
            "a direct room keeps its two people",
        ));
    }
    if user_id != actor.user_id && room.created_by != actor.user_id {
        actor.require(Permission::ChatModerate)?;
    }
    let is_member: Option<String> = ctx
        .store
        .run(
            "SELECT VALUE user FROM room_member WHERE room = $room AND user = $user LIMIT 1",
            json!({"room": room.id, "user": user_id}),
        )
        .await?
        .first(0)?;
    if is_member.is_none() {
        return Err(DomainError::NotFound("member"));
    }
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("room", &room.id).bind("user", user_id);
    tx.push("DELETE room_member WHERE room = $room AND user = $user");
    let changes = vec![FieldChange::new("member", Some(json!(user_id)), None)];
    audit::record(
        &mut tx,
        actor,
        "room",
        &room.id,
        "remove_member",
        &changes,
        now,
    );
    tx.commit(&ctx.store).await?;
    forget_membership(ctx);
    ctx.events.publish(crate::domain::events::Event::new(
        MEMBER_REMOVED_TOPIC,
        crate::domain::events::Audience::Users(vec![user_id.to_string()]),
        json!({"room": room.id, "user": user_id}),
    ));
    Ok(())
}

/// A membership ended (here or, through the live query on `room_member`,
/// on another instance): the memberships this instance remembered may be
/// stale, so they are read again.
pub fn forget_membership(ctx: &Ctx) {
    ctx.known_members.forget_all();
}

async fn add(ctx: &Ctx, actor: &Actor, room: &Room, user_id: &str) -> DomainResult<()> {
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("room", &room.id)
        .bind("user", user_id)
        .bind("now", db_time(now));
    tx.push(
        "CREATE room_member SET room = $room, user = $user, role = 'member', joined_at = <datetime>$now",
    );
    let changes = vec![FieldChange::new("member", None, Some(json!(user_id)))];
    audit::record(
        &mut tx,
        actor,
        "room",
        &room.id,
        "add_member",
        &changes,
        now,
    );
    match tx.commit(&ctx.store).await {
        // Added twice at once: the member is in, which is what was asked.
        Ok(_) | Err(StoreError::Duplicate(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The active members' user ids, for fan-out of `@here`: deactivated
/// users are not notified (see `membership`).
pub(crate) async fn member_ids(ctx: &Ctx, room_id: &str) -> DomainResult<Vec<String>> {
    Ok(ctx
        .store
        .run(
            "LET $users = (SELECT VALUE user FROM room_member WHERE room = $room LIMIT 5000);
             SELECT VALUE record::id(id) FROM array::map($users, |$u| type::record('user', $u))
                WHERE active = true;",
            json!({"room": room_id}),
        )
        .await?
        .rows(1)?)
}

pub async fn members(ctx: &Ctx, actor: &Actor, room_id: &str) -> DomainResult<Vec<Member>> {
    require_member(ctx, actor, room_id).await?;
    Ok(ctx
        .store
        .run(
            "SELECT user, role, joined_at FROM room_member WHERE room = $room LIMIT 5000",
            json!({"room": room_id}),
        )
        .await?
        .rows(0)?)
}
