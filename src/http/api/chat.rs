//! `/rooms`, `/messages`, `/pins`: the chat hub over REST, beside the
//! socket. Posting here is the same domain call as a `send` frame.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::common::Done;
use super::ApiTags;
use crate::domain::chat::messages::{self, Message, MessageAction, NewMessage, Page, Reaction};
use crate::domain::chat::pins::{self, Pin};
use crate::domain::chat::read_markers;
use crate::domain::chat::rooms::{self, ListedRoom, Member, NewRoom, Room};
use crate::domain::cursor;
use crate::domain::error::DomainError;
use crate::domain::socket_tickets;
use crate::http::auth::Auth;
use crate::http::error::ApiResult;
use crate::http::AppState;

pub struct ChatApi;

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RoomView {
    id: String,
    name: String,
    /// channel, group or direct.
    kind: String,
    topic: Option<String>,
    subject_kind: Option<String>,
    subject_id: Option<String>,
    created_by: String,
    created_at: DateTime<Utc>,
    /// Sequence number of the newest message (0: none yet).
    last_seq: i64,
    /// Whether you are a member (public channels are listed either way).
    joined: bool,
    /// A direct room's two people (user ids); it has no name of its own.
    direct_pair: Option<Vec<String>>,
    /// In the room list: the highest sequence number you have read here,
    /// kept on the server (`PUT /rooms/{id}/read`), so it follows you
    /// across devices.
    last_read: Option<i64>,
    /// In the room list: messages after `last_read` (0 for rooms you are
    /// not in).
    unread: Option<i64>,
}

/// A room as created, read or joined: you are in it.
impl From<Room> for RoomView {
    fn from(room: Room) -> Self {
        RoomView {
            id: room.id,
            name: room.name,
            kind: room.kind.as_str().to_string(),
            topic: room.topic,
            subject_kind: room.subject_kind,
            subject_id: room.subject_id,
            created_by: room.created_by,
            created_at: room.created_at,
            last_seq: room.last_seq,
            joined: true,
            direct_pair: room
                .direct_key
                .map(|k| k.split(':').map(str::to_string).collect()),
            last_read: None,
            unread: None,
        }
    }
}

impl From<ListedRoom> for RoomView {
    fn from(l: ListedRoom) -> Self {
        let unread = if l.joined {
            (l.room.last_seq - l.last_read).max(0)
        } else {
            0
        };
        RoomView {
            joined: l.joined,
            last_read: Some(l.last_read),
            unread: Some(unread),
            ..l.room.into()
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct MarkRoomRead {
    /// The highest sequence number you have seen; past the newest message
    /// it counts as the newest.
    seq: i64,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ReadMarkerView {
    room: String,
    /// Your read position now: never lower than before.
    last_read: i64,
    updated_at: DateTime<Utc>,
}

impl From<read_markers::ReadMarker> for ReadMarkerView {
    fn from(m: read_markers::ReadMarker) -> Self {
        ReadMarkerView {
            room: m.room,
            last_read: m.seq,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CreateRoom {
    /// Required for channels and groups; ignored for direct rooms.
    #[oai(default)]
    name: String,
    /// channel (public), group (private) or direct.
    kind: String,
    topic: Option<String>,
    /// What the room discusses, e.g. `lead`.
    subject_kind: Option<String>,
    subject_id: Option<String>,
    /// User ids to add; a direct room takes exactly one.
    #[oai(default)]
    members: Vec<String>,
}

impl From<CreateRoom> for NewRoom {
    fn from(b: CreateRoom) -> Self {
        NewRoom {
            name: b.name,
            kind: b.kind,
            topic: b.topic,
            subject_kind: b.subject_kind,
            subject_id: b.subject_id,
            members: b.members,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AddMember {
    user: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct MemberView {
    user: String,
    role: String,
    joined_at: DateTime<Utc>,
}

impl From<Member> for MemberView {
    fn from(m: Member) -> Self {
        MemberView {
            user: m.user,
            role: m.role,
            joined_at: m.joined_at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ReactionView {
    emoji: String,
    user: String,
}

impl From<Reaction> for ReactionView {
    fn from(r: Reaction) -> Self {
        ReactionView {
            emoji: r.emoji,
            user: r.user,
        }
    }
}

/// A button under a bot message; press it with
/// `POST /api/v1/messages/{id}/actions/{key}`.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct MessageActionView {
    label: String,
    key: String,
}

impl From<MessageAction> for MessageActionView {
    fn from(a: MessageAction) -> Self {
        MessageActionView {
            label: a.label,
            key: a.key,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct MessageView {
    id: String,
    room: String,
    /// Position in the room, gap-free and increasing.
    seq: i64,
    author: String,
    author_name: String,
    body: String,
    reply_to: Option<String>,
    file: Option<String>,
    reactions: Vec<ReactionView>,
    created_at: DateTime<Utc>,
    edited_at: Option<DateTime<Utc>>,
    deleted_at: Option<DateTime<Utc>>,
    /// Buttons under a bot message (confirm/cancel a proposal).
    #[oai(skip_serializing_if_is_none)]
    actions: Option<Vec<MessageActionView>>,
}

impl From<Message> for MessageView {
    fn from(m: Message) -> Self {
        MessageView {
            id: m.id,
            room: m.room,
            seq: m.seq,
            author: m.author,
            author_name: m.author_name,
            body: m.body,
            reply_to: m.reply_to,
            file: m.file,
            reactions: m.reactions.into_iter().map(Into::into).collect(),
            created_at: m.created_at,
            edited_at: m.edited_at,
            deleted_at: m.deleted_at,
            actions: m
                .actions
                .map(|actions| actions.into_iter().map(Into::into).collect()),
        }
    }
}

/// A page of messages found by a search.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct MessagePageView {
    /// Newest first.
    items: Vec<MessageView>,
    /// Pass as `after` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

impl From<cursor::Page<Message>> for MessagePageView {
    fn from(p: cursor::Page<Message>) -> Self {
        MessagePageView {
            items: p.items.into_iter().map(Into::into).collect(),
            next_cursor: p.next_cursor,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct PostMessage {
    body: String,
    reply_to: Option<String>,
    /// Your key for this send: sending again with it returns the first
    /// message instead of posting twice.
    idempotency_key: Option<String>,
}

impl PostMessage {
    /// The room comes from the path, not the body.
    fn into_message(self, room: String) -> NewMessage {
        NewMessage {
            room,
            body: self.body,
            reply_to: self.reply_to,
            idempotency_key: self.idempotency_key,
            file: None,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct PostedMessage {
    message: MessageView,
    /// True when an earlier send with the same idempotency key stored it.
    duplicate: bool,
}

impl From<messages::Posted> for PostedMessage {
    fn from(p: messages::Posted) -> Self {
        PostedMessage {
            message: p.message.into(),
            duplicate: p.duplicate,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct EditMessage {
    body: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct React {
    emoji: String,
    /// false removes your reaction.
    #[oai(default = "default_true")]
    on: bool,
}

fn default_true() -> bool {
    true
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct PinView {
    room: String,
    message: String,
    pinned_by: String,
    pinned_at: DateTime<Utc>,
}

impl From<Pin> for PinView {
    fn from(p: Pin) -> Self {
        PinView {
            room: p.room,
            message: p.message,
            pinned_by: p.pinned_by,
            pinned_at: p.pinned_at,
        }
    }
}

/// A single-use ticket for `GET /api/v1/ws?ticket=…`.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct SocketTicket {
    /// Put in the socket URL as `ticket`; it opens one socket, once.
    ticket: String,
    /// Unused after this, it is refused.
    expires_at: DateTime<Utc>,
}

impl From<socket_tickets::Ticket> for SocketTicket {
    fn from(t: socket_tickets::Ticket) -> Self {
        SocketTicket {
            ticket: t.ticket,
            expires_at: t.expires_at,
        }
    }
}

#[OpenApi(tag = "ApiTags::Chat")]
impl ChatApi {
    /// A ticket to open the chat socket with, for clients that cannot set
    /// `Authorization` on the upgrade: a token in the socket URL would be
    /// written to proxy logs (`?token=` is refused); a ticket found there
    /// is spent or expired (30 s). The socket acts for this credential.
    #[oai(path = "/ws/ticket", method = "post")]
    async fn socket_ticket(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> ApiResult<Json<SocketTicket>> {
        let issued = socket_tickets::issue(&state.ctx, auth.actor()).await?;
        Ok(Json(issued.into()))
    }

    /// Your rooms and every public channel.
    #[oai(path = "/rooms", method = "get")]
    async fn list_rooms(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
    ) -> ApiResult<Json<Vec<RoomView>>> {
        let rooms = rooms::list(&state.ctx, auth.actor()).await?;
        Ok(Json(rooms.into_iter().map(Into::into).collect()))
    }

    /// Create a channel, a group or a direct room (a direct room with the
    /// same person is returned if it exists).
    #[oai(path = "/rooms", method = "post")]
    async fn create_room(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: Json<CreateRoom>,
    ) -> ApiResult<Json<RoomView>> {
        let room = rooms::create(&state.ctx, auth.actor(), body.0.into()).await?;
        Ok(Json(room.into()))
    }

    /// One room you are in.
    #[oai(path = "/rooms/:id", method = "get")]
    async fn get_room(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<RoomView>> {
        let room = rooms::get(&state.ctx, auth.actor(), &id.0).await?;
        Ok(Json(room.into()))
    }

    /// Join a public channel.
    #[oai(path = "/rooms/:id/join", method = "post")]
    async fn join_room(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<RoomView>> {
        let room = rooms::join(&state.ctx, auth.actor(), &id.0).await?;
        Ok(Json(room.into()))
    }

    /// The room's members.
    #[oai(path = "/rooms/:id/members", method = "get")]
    async fn list_members(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<Vec<MemberView>>> {
        let members = rooms::members(&state.ctx, auth.actor(), &id.0).await?;
        Ok(Json(members.into_iter().map(Into::into).collect()))
    }

    /// Add someone to a group (any member) or a channel (its owner or a
    /// moderator).
    #[oai(path = "/rooms/:id/members", method = "post")]
    async fn add_member(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        body: Json<AddMember>,
    ) -> ApiResult<Json<Done>> {
        rooms::add_member(&state.ctx, auth.actor(), &id.0, &body.0.user).await?;
        Ok(Json(Done { ok: true }))
    }

    /// Take someone out of a channel or group: leave (your own id), or
    /// remove another member (the room's creator or `chat.moderate`).
    #[oai(path = "/rooms/:id/members/:user", method = "delete")]
    async fn remove_member(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        user: Path<String>,
    ) -> ApiResult<Json<Done>> {
        rooms::remove_member(&state.ctx, auth.actor(), &id.0, &user.0).await?;
        Ok(Json(Done { ok: true }))
    }

    /// History by sequence number, oldest first: the newest page, or
    /// `before`/`after` a sequence number; with `q`, a search (newest
    /// first).
    #[oai(path = "/rooms/:id/messages", method = "get")]
    // poem-openapi takes each query parameter as an argument of its own.
    #[allow(clippy::too_many_arguments)]
    async fn list_messages(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        before: Query<Option<i64>>,
        after: Query<Option<i64>>,
        limit: Query<Option<u32>>,
        q: Query<Option<String>>,
    ) -> ApiResult<Json<Vec<MessageView>>> {
        let limit = limit.0.unwrap_or(50) as usize;
        let actor = auth.actor();
        let found = match (q.0, before.0, after.0) {
            (Some(q), _, _) => messages::search(&state.ctx, actor, &id.0, &q, limit).await?,
            (None, Some(_), Some(_)) => {
                return Err(DomainError::invalid("before", "use either before or after").into())
            }
            (None, Some(seq), None) => {
                messages::history(&state.ctx, actor, &id.0, Page::Before(seq), limit).await?
            }
            (None, None, Some(seq)) => {
                messages::history(&state.ctx, actor, &id.0, Page::After(seq), limit).await?
            }
            (None, None, None) => {
                messages::history(&state.ctx, actor, &id.0, Page::Latest, limit).await?
            }
        };
        Ok(Json(found.into_iter().map(Into::into).collect()))
    }

    /// Record how far you have read a room. The position only rises, and
    /// your other devices hear of it (a `room.read` event) so their unread
    /// counts follow.
    #[oai(path = "/rooms/:id/read", method = "put")]
    async fn mark_room_read(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        body: Json<MarkRoomRead>,
    ) -> ApiResult<Json<ReadMarkerView>> {
        let marker = read_markers::mark(&state.ctx, auth.actor(), &id.0, body.0.seq).await?;
        Ok(Json(marker.into()))
    }

    /// Search the messages of every room you are in, newest first, a page
    /// at a time.
    #[oai(path = "/messages/search", method = "get")]
    async fn search_messages(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// 1 to 200 characters, found anywhere in a message's text
        /// (case-insensitive).
        q: Query<String>,
        /// The `next_cursor` of the previous page.
        after: Query<Option<String>>,
        /// 1 to 200, default 50.
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<MessagePageView>> {
        let limit = limit.0.unwrap_or(50) as usize;
        Ok(Json(
            messages::search_my_rooms(&state.ctx, auth.actor(), &q.0, after.0.as_deref(), limit)
                .await?
                .into(),
        ))
    }

    /// Post a message; `@username` notifies them, `@here`/`@all` the whole
    /// room (`chat.mention_all`).
    #[oai(path = "/rooms/:id/messages", method = "post")]
    async fn post_message(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        body: Json<PostMessage>,
    ) -> ApiResult<Json<PostedMessage>> {
        let posted = messages::post(&state.ctx, auth.actor(), body.0.into_message(id.0)).await?;
        Ok(Json(posted.into()))
    }

    /// Edit your own message.
    #[oai(path = "/messages/:id", method = "patch")]
    async fn edit_message(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        body: Json<EditMessage>,
    ) -> ApiResult<Json<MessageView>> {
        let message = messages::edit(&state.ctx, auth.actor(), &id.0, &body.0.body).await?;
        Ok(Json(message.into()))
    }

    /// Delete your message (or anyone's, with `chat.moderate`).
    #[oai(path = "/messages/:id", method = "delete")]
    async fn delete_message(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<MessageView>> {
        let message = messages::delete(&state.ctx, auth.actor(), &id.0).await?;
        Ok(Json(message.into()))
    }

    /// Add or remove your reaction.
    #[oai(path = "/messages/:id/reactions", method = "post")]
    async fn react(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        body: Json<React>,
    ) -> ApiResult<Json<MessageView>> {
        let b = body.0;
        let message = messages::react(&state.ctx, auth.actor(), &id.0, &b.emoji, b.on).await?;
        Ok(Json(message.into()))
    }

    /// Pin a message to its room.
    #[oai(path = "/messages/:id/pin", method = "post")]
    async fn pin(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<PinView>> {
        Ok(Json(
            pins::pin(&state.ctx, auth.actor(), &id.0).await?.into(),
        ))
    }

    /// Unpin a message.
    #[oai(path = "/messages/:id/pin", method = "delete")]
    async fn unpin(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<Done>> {
        pins::unpin(&state.ctx, auth.actor(), &id.0).await?;
        Ok(Json(Done { ok: true }))
    }

    /// A room's pins, newest first.
    #[oai(path = "/rooms/:id/pins", method = "get")]
    async fn list_pins(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<Vec<PinView>>> {
        let pins = pins::list(&state.ctx, auth.actor(), &id.0).await?;
        Ok(Json(pins.into_iter().map(Into::into).collect()))
    }
}
