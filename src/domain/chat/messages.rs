//! Messages: stored with a per-room sequence number handed out inside the
//! storing transaction, so every instance sharing the database agrees on
//! the order and a client can resume with "everything after seq N".
//!
//! Bodies are plain text in a small markdown subset (see
//! `docs/realtime-protocol.md`): the server keeps them as written, minus
//! control characters, and clients render them with HTML escaped. Text
//! starting with `/` is stored like any other; the bots command engine
//! will pick those up from the `message.created` event.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::mentions;
use super::notifications::Notification;
use super::rooms;
use super::writer::{Draft, PendingPost};
use crate::domain::actor::Actor;
use crate::domain::audit;
use crate::domain::clock::db_time;
use crate::domain::cursor::{self, TimeOrder};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::events::{Audience, Event};
use crate::domain::permissions::Permission;
use crate::domain::{tokens, users, Ctx};
use crate::store::{Store, Transaction};

pub const CREATED_TOPIC: &str = "message.created";
pub const UPDATED_TOPIC: &str = "message.updated";

/// The longest body accepted, in characters.
pub const MAX_BODY_CHARS: usize = 4000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    pub emoji: String,
    pub user: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Message {
    pub id: String,
    pub room: String,
    pub seq: i64,
    pub author: String,
    pub author_name: String,
    /// Empty once deleted. The audit records who wrote, edited or deleted
    /// it and when, never the text: its readers need not be in the room.
    pub body: String,
    pub reply_to: Option<String>,
    pub file: Option<String>,
    #[serde(default)]
    pub reactions: Vec<Reaction>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// Buttons under a bot message (confirm/cancel a proposal); pressed
    /// through `POST /api/v1/messages/{id}/actions/{key}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<MessageAction>>,
}

/// A button under a bot message: its label and the key of the parked
/// action it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageAction {
    pub label: String,
    pub key: String,
}

#[derive(Debug, Clone, Default)]
pub struct NewMessage {
    pub room: String,
    pub body: String,
    pub reply_to: Option<String>,
    /// Chosen by the client; a retried send with the same key returns the
    /// first message instead of storing another.
    pub idempotency_key: Option<String>,
    /// A file already stored for this room (see `files`).
    pub file: Option<String>,
}

/// A stored message, and whether it was stored by an earlier attempt.
#[derive(Debug, Clone)]
pub struct Posted {
    pub message: Message,
    pub duplicate: bool,
}

const SELECT_MESSAGE: &str = "SELECT *, record::id(id) AS id FROM";

/// Keeps newlines and tabs, drops other control characters (which
/// terminals and some renderers treat as commands).
fn clean_body(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect::<String>()
        .trim()
        .to_string()
}

fn parse_body(raw: &str, allow_empty: bool) -> DomainResult<String> {
    let body = clean_body(raw);
    if body.is_empty() && !allow_empty {
        return Err(DomainError::invalid("body", "must not be empty"));
    }
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(DomainError::invalid(
            "body",
            format!("must be at most {MAX_BODY_CHARS} characters"),
        ));
    }
    Ok(body)
}

fn parse_idempotency_key(raw: Option<&str>) -> DomainResult<Option<String>> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(key) if key.len() <= 100 => Ok(Some(key.to_string())),
        Some(_) => Err(DomainError::invalid(
            "idempotency_key",
            "must be at most 100 characters",
        )),
    }
}

/// The record key of a (user, idempotency key) pair.
fn send_key_id(user: &str, key: &str) -> String {
    tokens::hash_token(&format!("{user}\n{key}"))
}

/// The message stored under a send key's record id, if any.
pub(crate) async fn find_by_key(store: &Store, key_id: &str) -> DomainResult<Option<Message>> {
    Ok(store
        .run(
            &format!(
                "LET $key = (SELECT VALUE message FROM ONLY type::record('send_key', $id));
                 IF $key != NONE {{ ({SELECT_MESSAGE} ONLY type::record('message', $key)) }}"
            ),
            json!({"id": key_id}),
        )
        .await?
        .first(1)?)
}

pub(crate) async fn find(ctx: &Ctx, id: &str) -> DomainResult<Option<Message>> {
    Ok(ctx
        .store
        .run(
            &format!("{SELECT_MESSAGE} ONLY type::record('message', $id)"),
            json!({"id": id}),
        )
        .await?
        .first(0)?)
}

/// Stores a message (the one way to post, from the socket, REST or a
/// bridge), notifies whoever it mentions, and announces it to the room.
#[tracing::instrument(skip(ctx, actor, input), fields(actor = %actor.user_id, room = %input.room))]
pub async fn post(ctx: &Ctx, actor: &Actor, input: NewMessage) -> DomainResult<Posted> {
    submit(ctx, actor, input).await?.await
}

/// `post` in two steps, for a caller that goes on with other work while the
/// message is stored (the socket keeps delivering to its client): checks the
/// message and queues it, in the order of the calls; the returned future
/// answers once it is stored.
pub async fn submit(ctx: &Ctx, actor: &Actor, input: NewMessage) -> DomainResult<PendingPost> {
    super::require_chat(ctx, actor)?;
    let key = parse_idempotency_key(input.idempotency_key.as_deref())?;
    rooms::require_membership(ctx, actor, &input.room).await?;
    let room = input.room;
    let body = parse_body(&input.body, input.file.is_some())?;
    if let Some(reply_to) = &input.reply_to {
        let parent = find(ctx, reply_to).await?;
        if parent.is_none_or(|p| p.room != room) {
            return Err(DomainError::invalid(
                "reply_to",
                "must be a message of the same room",
            ));
        }
    }
    let id = tokens::new_id();
    let now = ctx.now();
    let recipients = mention_recipients(ctx, actor, &room, &body).await?;
    let preview: String = body.chars().take(200).collect();
    let text = format!("@{} mentioned you: {preview}", actor.username);
    let mut notes: Vec<Notification> = recipients
        .iter()
        .map(|user| Notification::new(user, "mention", Some(&room), Some(&id), &text, now))
        .collect();
    super::notification_settings::settle(ctx, &mut notes).await?;
    let draft = Draft {
        message: Message {
            id,
            room,
            seq: 0,
            author: actor.user_id.clone(),
            author_name: actor.username.clone(),
            body,
            reply_to: input.reply_to,
            file: input.file,
            reactions: Vec::new(),
            created_at: now,
            edited_at: None,
            deleted_at: None,
            actions: None,
        },
        key_id: key.map(|k| send_key_id(&actor.user_id, &k)),
        notes,
        actor: actor.clone(),
    };
    ctx.message_writer.submit(draft).await
}

/// The author id of messages the CRM's bot writes into hub rooms; no user
/// can have it (user ids are hex UUIDs).
pub const BOT_AUTHOR: &str = "bot";
/// The name those messages show.
pub const BOT_NAME: &str = "EA CRM bot";

/// Stores a message written by the bot (a reply to a slash command typed in
/// the room, or a message mirrored in from a bridged chat, shown under
/// `name`), in reply to `reply_to`, and announces it like any other. It
/// notifies no one: the people it might mention are on the other platform.
pub async fn post_as_bot(
    ctx: &Ctx,
    room: &str,
    name: &str,
    body: &str,
    reply_to: Option<&str>,
) -> DomainResult<Message> {
    post_as_bot_with_actions(ctx, room, name, body, reply_to, &[]).await
}

/// `post_as_bot` with buttons under the message.
pub async fn post_as_bot_with_actions(
    ctx: &Ctx,
    room: &str,
    name: &str,
    body: &str,
    reply_to: Option<&str>,
    actions: &[MessageAction],
) -> DomainResult<Message> {
    let body = parse_body(body, false)?;
    let draft = Draft {
        message: Message {
            id: tokens::new_id(),
            room: room.to_string(),
            seq: 0,
            author: BOT_AUTHOR.into(),
            author_name: name.to_string(),
            body,
            reply_to: reply_to.map(str::to_string),
            file: None,
            reactions: Vec::new(),
            created_at: ctx.now(),
            edited_at: None,
            deleted_at: None,
            actions: (!actions.is_empty()).then(|| actions.to_vec()),
        },
        key_id: None,
        notes: Vec::new(),
        actor: bot_actor(),
    };
    Ok(ctx.message_writer.submit(draft).await?.await?.message)
}

/// The members a body calls out, without the author. `@here`/`@all` need
/// `chat.mention_all`; a named user who is not in the room is skipped,
/// since they could not read what they were called to.
async fn mention_recipients(
    ctx: &Ctx,
    actor: &Actor,
    room: &str,
    body: &str,
) -> DomainResult<Vec<String>> {
    let found = mentions::parse(body);
    let mut recipients = Vec::new();
    if found.everyone {
        actor.require(Permission::ChatMentionAll)?;
        recipients = rooms::member_ids(ctx, room).await?;
    } else {
        for username in found.usernames.iter().take(50) {
            if let Some(record) = users::find_by_username(ctx, username).await? {
                if rooms::membership(ctx, room, &record.user.id)
                    .await?
                    .is_some()
                {
                    recipients.push(record.user.id);
                }
            }
        }
    }
    recipients.retain(|u| *u != actor.user_id);
    recipients.sort();
    recipients.dedup();
    Ok(recipients)
}

/// How long an idempotency key is remembered: far longer than any client
/// retries, short enough that the table does not grow for ever.
pub const SEND_KEY_RETENTION: chrono::Duration = chrono::Duration::days(7);

/// Forgets idempotency keys older than `SEND_KEY_RETENTION`; returns how
/// many were removed. Run by the service's housekeeping task.
pub async fn forget_old_send_keys(ctx: &Ctx) -> DomainResult<usize> {
    let cutoff = ctx.now() - SEND_KEY_RETENTION;
    let removed: Vec<Value> = ctx
        .store
        .run(
            "DELETE send_key WHERE created_at < <datetime>$cutoff RETURN BEFORE",
            json!({"cutoff": db_time(cutoff)}),
        )
        .await?
        .rows(0)?;
    Ok(removed.len())
}

/// Which page of a room's history.
#[derive(Debug, Clone, Copy)]
pub enum Page {
    /// The newest messages.
    Latest,
    /// Messages with a sequence number below this one.
    Before(i64),
    /// Messages with a sequence number above this one (resuming).
    After(i64),
}

pub const MAX_PAGE: usize = 200;

/// A page of a room's history, oldest first.
pub async fn history(
    ctx: &Ctx,
    actor: &Actor,
    room: &str,
    page: Page,
    limit: usize,
) -> DomainResult<Vec<Message>> {
    rooms::require_membership(ctx, actor, room).await?;
    page_of(ctx, room, page, limit).await
}

/// A page without the membership check, for the hub, which checked when
/// the client subscribed.
pub(crate) async fn page_of(
    ctx: &Ctx,
    room: &str,
    page: Page,
    limit: usize,
) -> DomainResult<Vec<Message>> {
    let limit = limit.clamp(1, MAX_PAGE);
    let (condition, order, seq) = match page {
        Page::Latest => ("", "DESC", 0),
        Page::Before(seq) => (" AND seq < $seq", "DESC", seq),
        Page::After(seq) => (" AND seq > $seq", "ASC", seq),
    };
    let sql = format!(
        "{SELECT_MESSAGE} message WHERE room = $room{condition} ORDER BY seq {order} LIMIT $limit"
    );
    let mut rows: Vec<Message> = ctx
        .store
        .run(&sql, json!({"room": room, "seq": seq, "limit": limit}))
        .await?
        .rows(0)?;
    if order == "DESC" {
        rows.reverse();
    }
    Ok(rows)
}

/// Messages after `seq` for the hub's catch-up (membership checked by the
/// caller when the client subscribed).
pub async fn after_for_hub(ctx: &Ctx, room: &str, seq: i64) -> DomainResult<Vec<Message>> {
    page_of(ctx, room, Page::After(seq), MAX_PAGE).await
}

/// Messages of a room whose text contains `query` (case-insensitive),
/// newest first.
pub async fn search(
    ctx: &Ctx,
    actor: &Actor,
    room: &str,
    query: &str,
    limit: usize,
) -> DomainResult<Vec<Message>> {
    rooms::require_membership(ctx, actor, room).await?;
    let query = query.trim().to_lowercase();
    if query.is_empty() || query.chars().count() > 200 {
        return Err(DomainError::invalid("q", "must be 1 to 200 characters"));
    }
    Ok(ctx
        .store
        .run(
            &format!(
                "{SELECT_MESSAGE} message WHERE room = $room AND deleted_at IS NONE
                 AND string::contains(string::lowercase(body), $query) ORDER BY seq DESC LIMIT $limit"
            ),
            json!({"room": room, "query": query, "limit": limit.clamp(1, MAX_PAGE)}),
        )
        .await?
        .rows(0)?)
}

/// The order of a search over all the actor's rooms: newest first, on the
/// `message_created` index.
const SEARCH_ORDER: TimeOrder = TimeOrder::newest_first("message", "created_at");

/// Messages whose text contains `query` (case-insensitive) in every room
/// the actor is a member of, newest first, a page at a time: the hub's
/// search box. Rooms the actor is not in (public channels not joined
/// included) are not searched.
pub async fn search_my_rooms(
    ctx: &Ctx,
    actor: &Actor,
    query: &str,
    after: Option<&str>,
    limit: usize,
) -> DomainResult<cursor::Page<Message>> {
    super::require_chat(ctx, actor)?;
    let query = query.trim().to_lowercase();
    if query.is_empty() || query.chars().count() > 200 {
        return Err(DomainError::invalid("q", "must be 1 to 200 characters"));
    }
    let limit = limit.clamp(1, MAX_PAGE);
    let bound = SEARCH_ORDER.after(after)?;
    let rows: Vec<Message> = ctx
        .store
        .run(
            &format!(
                "{}LET $mine = (SELECT VALUE room FROM room_member WHERE user = $user);
                 {SELECT_MESSAGE} message {} {} LIMIT $limit",
                bound.prelude(),
                bound.filter(&[
                    "room IN $mine",
                    "deleted_at IS NONE",
                    "string::contains(string::lowercase(body), $query)",
                ]),
                SEARCH_ORDER.order_by()
            ),
            json!({
                "user": actor.user_id,
                "query": query,
                "after_at": bound.at,
                "after_id": bound.id,
                "limit": limit + 1,
            }),
        )
        .await?
        .rows(1 + bound.statements_before())?;
    Ok(cursor::Page::from_one_more(rows, limit, |m| {
        cursor::encode_at(m.created_at, &m.id)
    }))
}

/// A message the actor can see (member of its room).
async fn visible(ctx: &Ctx, actor: &Actor, id: &str) -> DomainResult<Message> {
    super::require_chat(ctx, actor)?;
    let message = find(ctx, id)
        .await?
        .ok_or(DomainError::NotFound("message"))?;
    rooms::require_membership(ctx, actor, &message.room)
        .await
        .map_err(|_| DomainError::NotFound("message"))?;
    Ok(message)
}

pub async fn get(ctx: &Ctx, actor: &Actor, id: &str) -> DomainResult<Message> {
    visible(ctx, actor, id).await
}

fn announce_update(ctx: &Ctx, message: &Message) {
    ctx.events.publish(Event::new(
        UPDATED_TOPIC,
        Audience::Room(message.room.clone()),
        json!(message),
    ));
}

/// Changes the text of one's own message; the audit records the edit.
pub async fn edit(ctx: &Ctx, actor: &Actor, id: &str, body: &str) -> DomainResult<Message> {
    let message = visible(ctx, actor, id).await?;
    if message.author != actor.user_id {
        return Err(DomainError::Forbidden("author of the message".into()));
    }
    if message.deleted_at.is_some() {
        return Err(DomainError::Conflict("the message was deleted".into()));
    }
    let body = parse_body(body, message.file.is_some())?;
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("id", id)
        .bind("body", &body)
        .bind("now", db_time(now));
    tx.push("UPDATE type::record('message', $id) SET body = $body, edited_at = <datetime>$now");
    audit::record(&mut tx, actor, "message", id, "edit", &[], now);
    tx.commit(&ctx.store).await?;
    let message = find(ctx, id)
        .await?
        .ok_or(DomainError::NotFound("message"))?;
    announce_update(ctx, &message);
    Ok(message)
}

/// Deletes a message (its author, or a moderator): the text is blanked,
/// the sequence number stays so history has no hole, and the audit keeps
/// who deleted it.
pub async fn delete(ctx: &Ctx, actor: &Actor, id: &str) -> DomainResult<Message> {
    let message = visible(ctx, actor, id).await?;
    if message.author != actor.user_id {
        actor.require(Permission::ChatModerate)?;
    }
    if message.deleted_at.is_some() {
        return Ok(message);
    }
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("id", id).bind("now", db_time(now));
    tx.push("UPDATE type::record('message', $id) SET body = '', reactions = [], deleted_at = <datetime>$now");
    audit::record(&mut tx, actor, "message", id, "delete", &[], now);
    tx.commit(&ctx.store).await?;
    let message = find(ctx, id)
        .await?
        .ok_or(DomainError::NotFound("message"))?;
    announce_update(ctx, &message);
    Ok(message)
}

/// The bot's own actor, for the audit of what it writes.
fn bot_actor() -> Actor {
    Actor {
        user_id: BOT_AUTHOR.into(),
        username: BOT_NAME.into(),
        ..Actor::system()
    }
}

/// Changes the text of a message the bot wrote (one mirrored in from a
/// bridged chat whose author edited it there). Other messages are not
/// the bot's to change.
pub async fn edit_as_bot(ctx: &Ctx, id: &str, body: &str) -> DomainResult<Message> {
    let message = find(ctx, id)
        .await?
        .ok_or(DomainError::NotFound("message"))?;
    if message.author != BOT_AUTHOR {
        return Err(DomainError::Forbidden("author of the message".into()));
    }
    if message.deleted_at.is_some() {
        return Err(DomainError::Conflict("the message was deleted".into()));
    }
    let body = parse_body(body, false)?;
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("id", id)
        .bind("body", &body)
        .bind("now", db_time(now));
    tx.push("UPDATE type::record('message', $id) SET body = $body, edited_at = <datetime>$now");
    audit::record(&mut tx, &bot_actor(), "message", id, "edit", &[], now);
    tx.commit(&ctx.store).await?;
    let message = find(ctx, id)
        .await?
        .ok_or(DomainError::NotFound("message"))?;
    announce_update(ctx, &message);
    Ok(message)
}

/// Deletes a message the bot wrote (see `edit_as_bot`).
pub async fn delete_as_bot(ctx: &Ctx, id: &str) -> DomainResult<Message> {
    let message = find(ctx, id)
        .await?
        .ok_or(DomainError::NotFound("message"))?;
    if message.author != BOT_AUTHOR {
        return Err(DomainError::Forbidden("author of the message".into()));
    }
    if message.deleted_at.is_some() {
        return Ok(message);
    }
    let now = ctx.now();
    let mut tx = Transaction::new();
    tx.bind("id", id).bind("now", db_time(now));
    tx.push("UPDATE type::record('message', $id) SET body = '', reactions = [], actions = NONE, deleted_at = <datetime>$now");
    audit::record(&mut tx, &bot_actor(), "message", id, "delete", &[], now);
    tx.commit(&ctx.store).await?;
    let message = find(ctx, id)
        .await?
        .ok_or(DomainError::NotFound("message"))?;
    announce_update(ctx, &message);
    Ok(message)
}

/// Takes the buttons off a bot message once one was pressed, so the room
/// sees the question answered. Returns whether `key` was among them.
pub async fn clear_actions(ctx: &Ctx, id: &str, key: &str) -> DomainResult<bool> {
    let message = find(ctx, id)
        .await?
        .ok_or(DomainError::NotFound("message"))?;
    let offered = message
        .actions
        .as_ref()
        .is_some_and(|a| a.iter().any(|action| action.key == key));
    if !offered || message.author != BOT_AUTHOR {
        return Ok(false);
    }
    let cleared: Option<Message> = ctx
        .store
        .run(
            &format!(
                "UPDATE type::record('message', $id) SET actions = NONE
                    WHERE actions IS NOT NONE RETURN NONE;
                 {SELECT_MESSAGE} ONLY type::record('message', $id)"
            ),
            json!({"id": id}),
        )
        .await?
        .first(1)?;
    if let Some(message) = cleared {
        announce_update(ctx, &message);
    }
    Ok(true)
}

/// Adds (or with `on = false` removes) the actor's reaction.
pub async fn react(
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    emoji: &str,
    on: bool,
) -> DomainResult<Message> {
    let message = visible(ctx, actor, id).await?;
    let emoji = emoji.trim();
    if emoji.is_empty() || emoji.chars().count() > 32 || emoji.chars().any(char::is_whitespace) {
        return Err(DomainError::invalid(
            "emoji",
            "1 to 32 characters, no spaces",
        ));
    }
    if message.deleted_at.is_some() {
        return Err(DomainError::Conflict("the message was deleted".into()));
    }
    let reaction = Reaction {
        emoji: emoji.to_string(),
        user: actor.user_id.clone(),
    };
    let has = message.reactions.contains(&reaction);
    if has == on {
        return Ok(message);
    }
    // Written as a set operation in the database, so two people reacting at
    // once do not overwrite each other.
    let sql = if on {
        "UPDATE type::record('message', $id) SET reactions += $reaction"
    } else {
        "UPDATE type::record('message', $id) SET reactions -= $reaction"
    };
    ctx.store
        .run(sql, json!({"id": id, "reaction": reaction}))
        .await?;
    let message = find(ctx, id)
        .await?
        .ok_or(DomainError::NotFound("message"))?;
    announce_update(ctx, &message);
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_dropped_but_lines_kept() {
        assert_eq!(clean_body(" hi\u{1b}[31m\nthere\u{0} "), "hi[31m\nthere");
    }

    #[test]
    fn an_empty_body_is_refused_unless_a_file_carries_the_message() {
        assert!(parse_body("   ", false).is_err());
        assert_eq!(parse_body("  ", true).unwrap(), "");
    }

    #[test]
    fn a_send_key_belongs_to_its_user() {
        assert_ne!(send_key_id("u1", "k"), send_key_id("u2", "k"));
    }
}
