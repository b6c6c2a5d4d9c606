//! One WebSocket connection: reads the client's frames and calls the
//! domain, and writes what the hub queues for it. The protocol is written
//! down in `docs/realtime-protocol.md`.
//!
//! A send is checked and queued in the order it came, then answered when it
//! is stored; meanwhile the connection goes on reading and delivering, so a
//! client's own send never holds up what others say to it. Whatever is
//! queued for the client when it is written to goes out in one write.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::FuturesOrdered;
use futures_util::{SinkExt, StreamExt};
use poem::web::websocket::{CloseCode, Message as WsMessage, WebSocketStream};
use serde_json::{json, Value};

use super::frames::{binary_frame_error, decode_client_frame, ClientFrame};
use super::hub::{Hub, Outbound};
use crate::domain::actor::Actor;
use crate::domain::chat::messages::{self, NewMessage};
use crate::domain::chat::presence::Status;
use crate::domain::chat::rooms;
use crate::domain::error::DomainError;
use crate::domain::events;
use crate::domain::features::Feature;
use crate::domain::{maintenance, sessions, Ctx};
use crate::rate_limit::WindowLimiter;

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
/// Sends of one connection waiting to be stored; past this the connection
/// reads no more frames until some are answered.
const MAX_SENDS_IN_FLIGHT: usize = 64;
/// Frames taken from the hub's queue before they are written out together.
const MAX_FRAMES_PER_WRITE: usize = 256;

/// What a connection needs of the service around it; the socket handler
/// builds it once.
pub struct SocketServices {
    pub ctx: Arc<Ctx>,
    pub hub: Arc<Hub>,
    /// The per-credential request limit; each send counts against it.
    pub limiter: Arc<WindowLimiter>,
    /// How often the connection's credential is checked again.
    pub recheck_every: Duration,
    /// How often the client is pinged; a client heard nothing from for
    /// two of these periods is gone (a peer that vanished without closing
    /// leaves no other trace) and its connection is dropped.
    pub ping_every: Duration,
}

/// Why the loop ended, for the close frame.
enum End {
    ClientClosed,
    SignedOut,
    ServerClosing,
    Maintenance,
    ChatSwitchedOff,
    Silent,
    TooSlow,
    TooLarge,
    Broken,
}

/// A frame that will be ready once a send is stored.
type Answer = Pin<Box<dyn Future<Output = Value> + Send>>;

/// Serves one connection until it closes.
pub async fn run(socket: WebSocketStream, services: Arc<SocketServices>, actor: Actor) {
    let hub = services.hub.clone();
    let mut registration = hub.register(&actor.user_id);
    let (mut sink, mut stream) = socket.split();
    // Each connection re-checks at its own point of the period: sockets
    // opened together (a reconnect storm, the morning) would otherwise all
    // re-check in the same instant, thousands of lookups at once.
    let every = services.recheck_every.max(Duration::from_millis(1));
    let first = every.mul_f64(rand::random::<f64>());
    let mut recheck = tokio::time::interval_at(tokio::time::Instant::now() + first, every);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ping_every = services.ping_every.max(Duration::from_millis(1));
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_heard = tokio::time::Instant::now();
    let mut answers: FuturesOrdered<Answer> = FuturesOrdered::new();
    let mut maintenance = services.ctx.maintenance.subscribe();
    let mut switches = services.ctx.features.subscribe();
    let mut connection = Connection {
        services: &services,
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
        match flush(&mut sink, &mut connection.out).await {
            Flushed::Written => {}
            // A client whose buffers stay full for the whole timeout reads
            // no more: it is too slow, whichever of its queue or its socket
            // filled first.
            Flushed::Stuck => break End::TooSlow,
            Flushed::Gone => break End::Broken,
        }
        // A long backlog goes out a page at a time, written before the next
        // page is read, so resuming from far back costs no more memory than
        // one page.
        if let Some(room) = connection.behind.pop() {
            Box::pin(connection.catch_up(&room)).await;
            continue;
        }
        tokio::select! {
            incoming = stream.next(), if answers.len() < MAX_SENDS_IN_FLIGHT => {
                // Any frame, a pong included, shows the client is there.
                last_heard = tokio::time::Instant::now();
                match incoming {
                    Some(Ok(WsMessage::Text(text))) => {
                        Box::pin(connection.handle_text(&text, &mut answers)).await
                    }
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
                }
            }
            Some(answer) = answers.next(), if !answers.is_empty() => connection.push(answer),
            queued = registration.receiver.recv() => match queued {
                Some(outbound) => {
                    connection.handle_outbound(outbound).await;
                    while connection.out.len() < MAX_FRAMES_PER_WRITE {
                        let Ok(outbound) = registration.receiver.try_recv() else {
                            break;
                        };
                        connection.handle_outbound(outbound).await;
                    }
                }
                None if registration.overflowed.load(Ordering::SeqCst) => break End::TooSlow,
                None if hub.is_closing() => break End::ServerClosing,
                None => break End::Broken,
            },
            _ = ping.tick() => {
                // While reading is paused for answers, silence proves nothing.
                let reading = answers.len() < MAX_SENDS_IN_FLIGHT;
                if reading && last_heard.elapsed() >= ping_every * 2 {
                    break End::Silent;
                }
                match tokio::time::timeout(WRITE_TIMEOUT, sink.send(WsMessage::Ping(Vec::new()))).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => break End::Broken,
                    Err(_) => break End::TooSlow,
                }
            }
            Ok(()) = maintenance.changed() => {
                let state = maintenance.borrow_and_update().clone();
                if let Err(DomainError::Maintenance { message, retry_after_secs }) =
                    maintenance::admit(&services.ctx, &connection.actor)
                {
                    // Told first, so a client can show why it was closed.
                    connection.push(json!({
                        "type": "maintenance",
                        "message": message,
                        "until": state.until,
                        "retry_after_secs": retry_after_secs,
                    }));
                    let _ = flush(&mut sink, &mut connection.out).await;
                    break End::Maintenance;
                }
            }
            Ok(()) = switches.changed() => {
                let off = *switches.borrow_and_update();
                if off.contains(Feature::Chat) {
                    // Told first, so the panel can hide the chat.
                    let e = Feature::Chat.refusal();
                    connection.push(json!({
                        "type": "feature_disabled",
                        "feature": Feature::Chat.key(),
                        "message": e.to_string(),
                    }));
                    let _ = flush(&mut sink, &mut connection.out).await;
                    break End::ChatSwitchedOff;
                }
            }
            _ = recheck.tick() => match Box::pin(sessions::recheck(&services.ctx, &connection.actor)).await {
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
        End::Maintenance => Some((CloseCode::Restart, "closed for maintenance")),
        End::ChatSwitchedOff => Some((CloseCode::Away, "the chat is switched off")),
        End::Silent => Some((CloseCode::Away, "no answer to pings")),
        End::Broken => None,
    };
    // Gone for everyone else before the close frame: a stuck client's close
    // can wait on its socket for the whole timeout.
    hub.unregister(registration.id);
    if let Some((code, reason)) = close {
        let _ = tokio::time::timeout(
            WRITE_TIMEOUT,
            sink.send(WsMessage::Close(Some((code, reason.to_string())))),
        )
        .await;
    }
}

/// How a write of the pending frames ended.
enum Flushed {
    Written,
    /// Not written within `WRITE_TIMEOUT`: the client is not reading.
    Stuck,
    /// The socket failed.
    Gone,
}

/// Writes what is pending in one go.
async fn flush<S>(sink: &mut S, out: &mut Vec<String>) -> Flushed
where
    S: futures_util::Sink<WsMessage> + Unpin,
{
    if out.is_empty() {
        return Flushed::Written;
    }
    let write = async {
        for text in out.drain(..) {
            sink.feed(WsMessage::Text(text)).await?;
        }
        sink.flush().await
    };
    match tokio::time::timeout(WRITE_TIMEOUT, write).await {
        Ok(Ok(())) => Flushed::Written,
        Ok(Err(_)) => Flushed::Gone,
        Err(_) => Flushed::Stuck,
    }
}

struct Connection<'a> {
    services: &'a SocketServices,
    /// Who is connected, with the permissions of the last re-check.
    actor: Actor,
    id: u64,
    /// Per followed room, the last sequence number sent to the client. A
    /// room is here only once its membership was confirmed.
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
        DomainError::Unauthenticated
        | DomainError::BadCredentials
        | DomainError::SecondFactorRequired
        | DomainError::WrongSecondFactor => "unauthenticated",
        DomainError::Forbidden(_) => "forbidden",
        DomainError::SecondFactorSetupRequired => "second_factor_setup_required",
        DomainError::Invalid { .. } => "invalid",
        DomainError::Malformed { .. } => "bad_request",
        DomainError::Conflict(_) => "conflict",
        DomainError::Duplicate(_) => "duplicate",
        DomainError::PreconditionFailed(_) => "precondition_failed",
        DomainError::RateLimited { .. } => "rate_limited",
        DomainError::Busy { .. } => "busy",
        DomainError::Maintenance { .. } => "maintenance",
        DomainError::FeatureDisabled { .. } => "feature_disabled",
        DomainError::Internal(cause) => {
            tracing::error!(%cause, "internal error on the websocket");
            return error_frame(client_id, "internal", "internal error");
        }
    };
    error_frame(client_id, code, &e.to_string())
}

/// The frame that answers a send: its ack, or why it was refused.
fn send_answer(client_id: Option<&str>, result: Result<messages::Posted, DomainError>) -> Value {
    match result {
        Ok(posted) => json!({
            "type": "ack",
            "client_id": client_id,
            "message_id": posted.message.id,
            "room": posted.message.room,
            "seq": posted.message.seq,
            "duplicate": posted.duplicate,
        }),
        Err(e) => domain_error_frame(client_id, &e),
    }
}

impl Connection<'_> {
    fn push(&mut self, frame: Value) {
        self.out.push(frame.to_string());
    }

    /// Counts a frame that costs database work against the credential's
    /// request limit; the refusal, when over it.
    fn over_limit(&self) -> Option<DomainError> {
        let key = self.actor.rate_limit_key()?;
        self.services
            .limiter
            .hit(&key, self.services.ctx.now())
            .err()
            .map(|secs| DomainError::RateLimited {
                retry_after_secs: secs,
            })
    }

    async fn handle_text(&mut self, text: &str, answers: &mut FuturesOrdered<Answer>) {
        let frame = match decode_client_frame(text) {
            Ok(f) => f,
            Err(e) => {
                self.push(error_frame(None, e.code, &e.message));
                return;
            }
        };
        let ctx = &self.services.ctx;
        let hub = &self.services.hub;
        match frame {
            ClientFrame::Subscribe { .. } if self.cursors.len() >= MAX_ROOMS_FOLLOWED => {
                let e = DomainError::invalid(
                    "room",
                    format!("follow at most {MAX_ROOMS_FOLLOWED} rooms per connection"),
                );
                self.push(domain_error_frame(None, &e));
            }
            ClientFrame::Subscribe { room, after_seq } => {
                // A subscribe reads the database (membership, then the
                // backlog), so it counts against the credential's limit
                // like a send or a request.
                if let Some(limited) = self.over_limit() {
                    self.push(domain_error_frame(None, &limited));
                    return;
                }
                // Membership first: nothing of a room reaches a connection
                // before its user is known to be in it.
                match rooms::require_member(ctx, &self.actor, &room).await {
                    Ok(found) => {
                        hub.subscribe(self.id, &room);
                        // A cursor past the end would skip messages yet to come.
                        let cursor = after_seq.unwrap_or(found.last_seq).clamp(0, found.last_seq);
                        self.cursors.insert(room.clone(), cursor);
                        self.push(
                            json!({"type": "subscribed", "room": room, "last_seq": found.last_seq}),
                        );
                        // Also picks up what was stored between the check
                        // and the subscription.
                        self.catch_up(&room).await;
                    }
                    Err(e) => self.push(domain_error_frame(None, &e)),
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
                if let Some(limited) = self.over_limit() {
                    let frame = domain_error_frame(client_id.as_deref(), &limited);
                    answers.push_back(Box::pin(std::future::ready(frame)));
                    return;
                }
                let input = NewMessage {
                    room,
                    body,
                    reply_to,
                    idempotency_key,
                    file: None,
                };
                // Answers keep the order of the sends, refusals included.
                let answer: Answer = match messages::submit(ctx, &self.actor, input).await {
                    Ok(pending) => {
                        Box::pin(async move { send_answer(client_id.as_deref(), pending.await) })
                    }
                    Err(e) => Box::pin(std::future::ready(send_answer(
                        client_id.as_deref(),
                        Err(e),
                    ))),
                };
                answers.push_back(answer);
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
            Outbound::Event { topic, frame } => {
                let needs = events::permissions_to_receive(&topic);
                if needs.is_empty() || needs.iter().any(|p| self.actor.permissions.contains(p)) {
                    self.out.push(frame.to_string());
                }
            }
            Outbound::RoomFrame { room, frame } => {
                if self.cursors.contains_key(&*room) {
                    self.out.push(frame.to_string());
                }
            }
            Outbound::RoomMessage { room, seq, frame } => {
                let Some(cursor) = self.cursors.get(&*room).copied() else {
                    return;
                };
                match frame {
                    _ if seq <= cursor => {}
                    Some(frame) if seq == cursor + 1 => {
                        if let Some(at) = self.cursors.get_mut(&*room) {
                            *at = seq;
                        }
                        self.out.push(frame.to_string());
                    }
                    _ => Box::pin(self.catch_up(&room)).await,
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
        let page = match messages::after_for_hub(&self.services.ctx, room, cursor).await {
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
