//! One WebSocket connection: reads the client's frames and calls the
//! domain, and writes what the hub queues for it. The protocol is written
//! down in `docs/realtime-protocol.md`.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use poem::web::websocket::{CloseCode, Message as WsMessage, WebSocketStream};
use serde_json::{json, Value};

use super::frames::{binary_frame_error, decode_client_frame, ClientFrame};
use super::hub::Outbound;
use crate::domain::actor::Actor;
use crate::domain::chat::messages::{self, NewMessage};
use crate::domain::chat::presence::Status;
use crate::domain::chat::rooms;
use crate::domain::error::DomainError;
use crate::domain::sessions;
use crate::http::{auth, AppState};

/// A client that does not take a frame within this long is gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Close code telling a client it fell behind and should reconnect and
/// resume from its last sequence numbers.
pub const CLOSE_TOO_SLOW: u16 = 4008;
/// Close code for a connection whose session ended or whose key was
/// revoked while it was open.
pub const CLOSE_SIGNED_OUT: u16 = 4001;
/// Rooms one connection may follow at once.
const MAX_ROOMS_FOLLOWED: usize = 500;

/// Why the loop ended, for the close frame.
enum End {
    ClientClosed,
    SignedOut,
    ServerClosing,
    TooSlow,
    TooLarge,
    Broken,
}

/// Serves one connection until it closes.
pub async fn run(socket: WebSocketStream, state: Arc<AppState>, actor: Actor) {
    state.metrics.websocket_opened();
    let hub = state.hub.clone();
    let mut registration = hub.register(&actor.user_id);
    let (mut sink, mut stream) = socket.split();
    let mut recheck = tokio::time::interval(Duration::from_millis(state.config.ws_auth_recheck_ms));
    recheck.reset();
    let mut connection = Connection {
        state: &state,
        actor,
        id: registration.id,
        cursors: HashMap::new(),
        behind: Vec::new(),
        out: Vec::new(),
    };
    connection.push(json!({
        "type": "hello",
        "user": connection.actor.user_id,
        "username": connection.actor.username,
        "connection": registration.id,
        "presence": hub.presence_snapshot(),
    }));
    let end = loop {
        if !flush(&mut sink, &mut connection.out).await {
            break End::Broken;
        }
        // A long backlog goes out a page at a time, written before the next
        // page is read, so resuming from far back costs no more memory than
        // one page.
        if let Some(room) = connection.behind.pop() {
            connection.catch_up(&room).await;
            continue;
        }
        tokio::select! {
            incoming = stream.next() => match incoming {
                Some(Ok(WsMessage::Text(text))) => connection.handle_text(&text).await,
                Some(Ok(WsMessage::Binary(_))) => {
                    let e = binary_frame_error();
                    connection.push(error_frame(None, e.code, &e.message));
                }
                Some(Ok(WsMessage::Close(_))) | None => break End::ClientClosed,
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    let text = e.to_string();
                    break if text.contains("too long") || text.contains("Space limit") {
                        End::TooLarge
                    } else {
                        End::Broken
                    };
                }
            },
            queued = registration.receiver.recv() => match queued {
                Some(outbound) => connection.handle_outbound(outbound).await,
                None if registration.overflowed.load(Ordering::SeqCst) => break End::TooSlow,
                None if hub.is_closing() => break End::ServerClosing,
                None => break End::Broken,
            },
            _ = recheck.tick() => match sessions::recheck(&state.ctx, &connection.actor).await {
                Ok(actor) => connection.actor = actor,
                Err(DomainError::Unauthenticated) => break End::SignedOut,
                // The database hiccuped: keep the connection, check again later.
                Err(e) => tracing::warn!(error = %e, "could not re-check a socket's credential"),
            },
        }
    };
    let close = match end {
        End::TooSlow => Some((
            CloseCode::from(CLOSE_TOO_SLOW),
            "too slow: reconnect and resume",
        )),
        End::TooLarge => Some((CloseCode::Size, "frame too large")),
        End::ClientClosed => Some((CloseCode::Normal, "bye")),
        End::SignedOut => Some((CloseCode::from(CLOSE_SIGNED_OUT), "signed out")),
        End::ServerClosing => Some((
            CloseCode::Restart,
            "server restarting: reconnect and resume",
        )),
        End::Broken => None,
    };
    if let Some((code, reason)) = close {
        let _ = tokio::time::timeout(
            WRITE_TIMEOUT,
            sink.send(WsMessage::Close(Some((code, reason.to_string())))),
        )
        .await;
    }
    hub.unregister(registration.id);
    state.metrics.websocket_closed();
}

/// Writes what is pending; false when the client is gone or stuck.
async fn flush<S>(sink: &mut S, out: &mut Vec<String>) -> bool
where
    S: futures_util::Sink<WsMessage> + Unpin,
{
    for text in out.drain(..) {
        match tokio::time::timeout(WRITE_TIMEOUT, sink.send(WsMessage::Text(text))).await {
            Ok(Ok(())) => {}
            _ => return false,
        }
    }
    true
}

struct Connection<'a> {
    state: &'a AppState,
    /// Who is connected, with the permissions of the last re-check.
    actor: Actor,
    id: u64,
    /// Per followed room, the last sequence number sent to the client.
    cursors: HashMap<String, i64>,
    /// Rooms with more history to send than the last page held.
    behind: Vec<String>,
    /// Frames to write before reading anything else.
    out: Vec<String>,
}

fn error_frame(client_id: Option<&str>, code: &str, message: &str) -> Value {
    json!({"type": "error", "client_id": client_id, "code": code, "message": message})
}

fn domain_error_frame(client_id: Option<&str>, e: &DomainError) -> Value {
    let code = match e {
        DomainError::NotFound(_) => "not_found",
        DomainError::Unauthenticated | DomainError::BadCredentials => "unauthenticated",
        DomainError::Forbidden(_) => "forbidden",
        DomainError::Invalid { .. } => "invalid",
        DomainError::Conflict(_) => "conflict",
        DomainError::RateLimited { .. } => "rate_limited",
        DomainError::Internal(cause) => {
            tracing::error!(%cause, "internal error on the websocket");
            return error_frame(client_id, "internal", "internal error");
        }
    };
    error_frame(client_id, code, &e.to_string())
}

impl Connection<'_> {
    fn push(&mut self, frame: Value) {
        self.out.push(frame.to_string());
    }

    async fn handle_text(&mut self, text: &str) {
        let frame = match decode_client_frame(text) {
            Ok(f) => f,
            Err(e) => {
                self.push(error_frame(None, e.code, &e.message));
                return;
            }
        };
        let ctx = &self.state.ctx;
        let hub = &self.state.hub;
        let actor = &self.actor;
        match frame {
            ClientFrame::Subscribe { .. } if self.cursors.len() >= MAX_ROOMS_FOLLOWED => {
                let e = DomainError::invalid(
                    "room",
                    format!("follow at most {MAX_ROOMS_FOLLOWED} rooms per connection"),
                );
                self.push(domain_error_frame(None, &e));
            }
            ClientFrame::Subscribe { room, after_seq } => {
                // Follow first, then read where the room stands: a message
                // stored in between arrives as a wake-up and is sorted out
                // by the cursor, so nothing falls between the two.
                hub.subscribe(self.id, &room);
                match rooms::require_member(ctx, actor, &room).await {
                    Ok(found) => {
                        // A cursor past the end would skip messages yet to come.
                        let cursor = after_seq.unwrap_or(found.last_seq).clamp(0, found.last_seq);
                        self.cursors.insert(room.clone(), cursor);
                        self.push(
                            json!({"type": "subscribed", "room": room, "last_seq": found.last_seq}),
                        );
                        self.catch_up(&room).await;
                    }
                    Err(e) => {
                        hub.unsubscribe(self.id, &room);
                        self.push(domain_error_frame(None, &e));
                    }
                }
            }
            ClientFrame::Unsubscribe { room } => {
                hub.unsubscribe(self.id, &room);
                self.cursors.remove(&room);
            }
            ClientFrame::Send {
                client_id,
                room,
                body,
                reply_to,
                idempotency_key,
            } => {
                // The socket is one more way to call the API: the same
                // per-credential limit applies.
                if let Some(key) = auth::rate_limit_key(actor) {
                    if let Err(secs) = self.state.token_limiter.hit(&key, ctx.now()) {
                        let limited = DomainError::RateLimited {
                            retry_after_secs: secs,
                        };
                        self.push(domain_error_frame(client_id.as_deref(), &limited));
                        return;
                    }
                }
                let input = NewMessage {
                    room,
                    body,
                    reply_to,
                    idempotency_key,
                    file: None,
                };
                match messages::post(ctx, actor, input).await {
                    Ok(posted) => self.push(json!({
                        "type": "ack",
                        "client_id": client_id,
                        "message_id": posted.message.id,
                        "room": posted.message.room,
                        "seq": posted.message.seq,
                        "duplicate": posted.duplicate,
                    })),
                    Err(e) => self.push(domain_error_frame(client_id.as_deref(), &e)),
                }
            }
            ClientFrame::Typing { room } => hub.typing(self.id, &room),
            ClientFrame::Presence { status } => match Status::parse_settable(&status) {
                Ok(status) => hub.set_presence(self.id, status),
                Err(e) => self.push(domain_error_frame(None, &e)),
            },
            ClientFrame::Ping { client_id } => {
                self.push(json!({"type": "pong", "client_id": client_id}))
            }
        }
    }

    async fn handle_outbound(&mut self, outbound: Outbound) {
        match outbound {
            Outbound::Frame(text) => self.out.push(text.to_string()),
            Outbound::RoomMessage { room, seq, message } => {
                let Some(cursor) = self.cursors.get(&room).copied() else {
                    return;
                };
                match message {
                    _ if seq <= cursor => {}
                    Some(message) if seq == cursor + 1 => {
                        self.cursors.insert(room.clone(), seq);
                        self.push(json!({"type": "message", "room": room, "message": *message}));
                    }
                    _ => self.catch_up(&room).await,
                }
            }
        }
    }

    /// Sends the next page after the room's cursor from the database; when
    /// the page was full, marks the room as behind for the next round.
    async fn catch_up(&mut self, room: &str) {
        let Some(cursor) = self.cursors.get(room).copied() else {
            return;
        };
        let page = match messages::after_for_hub(&self.state.ctx, room, cursor).await {
            Ok(page) => page,
            Err(e) => {
                self.push(domain_error_frame(None, &e));
                return;
            }
        };
        let full = page.len() >= messages::MAX_PAGE;
        for message in page {
            self.cursors.insert(room.to_string(), message.seq);
            self.push(json!({"type": "message", "room": room, "message": message}));
        }
        if full && !self.behind.iter().any(|r| r == room) {
            self.behind.push(room.to_string());
        }
    }
}
