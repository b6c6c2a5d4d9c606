//! A fake Discord on 127.0.0.1 speaking the real wire formats: the REST
//! v10 routes serenity calls (`Authorization: Bot <token>`, JSON bodies)
//! and a WebSocket gateway (HELLO op 10, IDENTIFY op 2, READY, heartbeats
//! op 1/11, dispatches op 0, RECONNECT op 7, RESUME op 6 with replay of
//! missed events, RESUMED).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::websocket::{Message as WsMessage, WebSocket};
use poem::web::{Data, Json, Path};
use poem::{get, handler, post, put, EndpointExt, IntoResponse, Response, Route, Server};
use serde_json::{json, Value};
use tokio::sync::mpsc;

pub const TOKEN: &str = "discord-TEST-token";
pub const BOT_ID: u64 = 4242;
pub const APP_ID: u64 = 4343;
pub const BOT_NAME: &str = "EaCrmBot";
/// A server (guild) channel, and the guild it is in.
pub const CHANNEL: u64 = 7001;
pub const GUILD: u64 = 8001;
const WAIT: Duration = Duration::from_secs(10);
/// The id of the DM channel with user `u` is `DM_BASE + u`.
pub const DM_BASE: u64 = 900_000;

/// A REST call the bot made.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub body: Value,
    pub at: Instant,
}

/// Sent to the live gateway connection.
enum Push {
    Frame(Value),
    /// Ask the client to reconnect (op 7) and drop the connection.
    Reconnect,
}

#[derive(Default)]
pub struct FakeState {
    calls: Mutex<Vec<Call>>,
    /// Every dispatch of the session, by sequence number, for resumes.
    dispatched: Mutex<Vec<Value>>,
    live: Mutex<Option<mpsc::UnboundedSender<Push>>>,
    pub identifies: AtomicU32,
    pub resumes: AtomicU32,
    pub heartbeats: AtomicU32,
    /// How many channel messages to refuse with a 429 first.
    pub throttle_messages: AtomicU32,
    next_id: AtomicU64,
    ws_url: Mutex<String>,
    /// What people said in server channels, for history reads.
    history: Mutex<Vec<Value>>,
}

#[derive(Clone)]
pub struct FakeDiscord {
    /// What `DISCORD_API_URL` is set to.
    pub url: String,
    pub state: Arc<FakeState>,
}

pub fn user(id: u64) -> Value {
    json!({"id": id.to_string(), "username": format!("user{id}"), "global_name": format!("User {id}"),
           "discriminator": "0", "avatar": null, "bot": false})
}

fn bot_user() -> Value {
    json!({"id": BOT_ID.to_string(), "username": BOT_NAME, "global_name": null,
           "discriminator": "0", "avatar": null, "bot": true})
}

impl FakeState {
    fn id(&self) -> String {
        (self.next_id.fetch_add(1, Ordering::SeqCst) + 10_000).to_string()
    }

    fn record(&self, method: &str, path: &str, body: Value) {
        self.calls.lock().unwrap().push(Call {
            method: method.into(),
            path: path.into(),
            body,
            at: Instant::now(),
        });
    }

    /// A message as the gateway and REST describe it.
    fn message(&self, channel: u64, author: Value, content: &str, guild: bool) -> Value {
        let mut message = json!({
            "id": self.id(), "channel_id": channel.to_string(), "author": author,
            "content": content, "timestamp": "2026-01-01T10:00:00.000000+00:00",
            "edited_timestamp": null, "tts": false, "mention_everyone": false,
            "mentions": [], "mention_roles": [], "attachments": [], "embeds": [],
            "pinned": false, "type": 0
        });
        if guild {
            message["guild_id"] = json!(GUILD.to_string());
        }
        message
    }
}

fn authorized(req: &poem::Request) -> bool {
    req.header("authorization") == Some(&format!("Bot {TOKEN}"))
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"message": "401: Unauthorized", "code": 0})),
    )
        .into_response()
}

#[handler]
fn gateway_url(req: &poem::Request, state: Data<&Arc<FakeState>>) -> Response {
    if !authorized(req) && req.uri().path().ends_with("/bot") {
        return unauthorized();
    }
    let url = state.ws_url.lock().unwrap().clone();
    Json(json!({
        "url": url, "shards": 1,
        "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
    }))
    .into_response()
}

#[handler]
fn current_user(req: &poem::Request) -> Response {
    if !authorized(req) {
        return unauthorized();
    }
    Json(bot_user()).into_response()
}

#[handler]
fn set_commands(
    req: &poem::Request,
    Path(app): Path<String>,
    state: Data<&Arc<FakeState>>,
    body: String,
) -> Response {
    if !authorized(req) {
        return unauthorized();
    }
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    state.record(
        "PUT",
        &format!("/applications/{app}/commands"),
        body.clone(),
    );
    let commands: Vec<Value> = body
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut c| {
            c["id"] = json!(state.id());
            c["application_id"] = json!(app);
            c["type"] = json!(1);
            c["version"] = json!(state.id());
            c
        })
        .collect();
    Json(json!(commands)).into_response()
}

#[handler]
fn create_message(
    req: &poem::Request,
    Path(channel): Path<u64>,
    state: Data<&Arc<FakeState>>,
    body: String,
) -> Response {
    if !authorized(req) {
        return unauthorized();
    }
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    state.record(
        "POST",
        &format!("/channels/{channel}/messages"),
        body.clone(),
    );
    let throttled = state
        .throttle_messages
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if throttled {
        return Response::builder()
            .status(StatusCode::TOO_MANY_REQUESTS)
            .header("retry-after", "1")
            .header("x-ratelimit-limit", "5")
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset-after", "1.000")
            .header("x-ratelimit-bucket", "fake-bucket")
            .content_type("application/json")
            .body(
                json!({"message": "You are being rate limited.", "retry_after": 1.0, "global": false})
                    .to_string(),
            );
    }
    let content = body["content"].as_str().unwrap_or_default();
    let mut message = state.message(channel, bot_user(), content, channel == CHANNEL);
    if let Some(components) = body.get("components") {
        message["components"] = components.clone();
    }
    Json(message).into_response()
}

/// `GET /channels/{id}/messages?after=ID&limit=N`: what was said in the
/// channel after a message, newest first as Discord answers.
#[handler]
fn channel_history(
    req: &poem::Request,
    Path(channel): Path<u64>,
    state: Data<&Arc<FakeState>>,
) -> Response {
    if !authorized(req) {
        return unauthorized();
    }
    let query: std::collections::HashMap<String, String> = req.params().unwrap_or_default();
    let after: u64 = query.get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(50);
    state.record(
        "GET",
        &format!("/channels/{channel}/messages"),
        json!({"after": after.to_string()}),
    );
    let channel_id = channel.to_string();
    let mut page: Vec<Value> = state
        .history
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m["channel_id"] == channel_id.as_str())
        .filter(|m| {
            m["id"]
                .as_str()
                .and_then(|id| id.parse::<u64>().ok())
                .unwrap_or(0)
                > after
        })
        .cloned()
        .collect();
    page.truncate(limit);
    page.reverse();
    Json(page).into_response()
}

#[handler]
fn edit_message(
    req: &poem::Request,
    Path((channel, message)): Path<(u64, String)>,
    state: Data<&Arc<FakeState>>,
    body: String,
) -> Response {
    if !authorized(req) {
        return unauthorized();
    }
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    state.record(
        "PATCH",
        &format!("/channels/{channel}/messages/{message}"),
        body.clone(),
    );
    let content = body["content"].as_str().unwrap_or_default();
    let mut edited = state.message(channel, bot_user(), content, channel == CHANNEL);
    edited["id"] = json!(message);
    Json(edited).into_response()
}

#[handler]
fn delete_message(
    req: &poem::Request,
    Path((channel, message)): Path<(u64, String)>,
    state: Data<&Arc<FakeState>>,
) -> Response {
    if !authorized(req) {
        return unauthorized();
    }
    state.record(
        "DELETE",
        &format!("/channels/{channel}/messages/{message}"),
        Value::Null,
    );
    StatusCode::NO_CONTENT.into_response()
}

#[handler]
fn open_dm(req: &poem::Request, state: Data<&Arc<FakeState>>, body: String) -> Response {
    if !authorized(req) {
        return unauthorized();
    }
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    state.record("POST", "/users/@me/channels", body.clone());
    let recipient: u64 = body["recipient_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| body["recipient_id"].as_u64())
        .unwrap_or_default();
    Json(json!({
        "id": (DM_BASE + recipient).to_string(), "type": 1,
        "last_message_id": null, "recipients": [user(recipient)]
    }))
    .into_response()
}

#[handler]
fn interaction_callback(
    req: &poem::Request,
    Path((id, token)): Path<(String, String)>,
    state: Data<&Arc<FakeState>>,
    body: String,
) -> Response {
    // Interaction callbacks are authorised by the token in the path.
    let _ = req;
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    state.record(
        "POST",
        &format!("/interactions/{id}/{token}/callback"),
        body,
    );
    StatusCode::NO_CONTENT.into_response()
}

#[handler]
async fn gateway(ws: WebSocket, state: Data<&Arc<FakeState>>) -> impl IntoResponse {
    let state = state.clone();
    ws.on_upgrade(move |socket| async move {
        let (mut sink, mut stream) = socket.split();
        let (push, mut pushed) = mpsc::unbounded_channel::<Push>();
        let hello = json!({"op": 10, "d": {"heartbeat_interval": 1500}, "s": null, "t": null});
        if sink.send(WsMessage::Text(hello.to_string())).await.is_err() {
            return;
        }
        loop {
            tokio::select! {
                frame = stream.next() => {
                    let Some(Ok(WsMessage::Text(text))) = frame else { break };
                    let Ok(frame) = serde_json::from_str::<Value>(&text) else { break };
                    let replies = answer(&state, &frame, &push);
                    for reply in replies {
                        if sink.send(WsMessage::Text(reply.to_string())).await.is_err() {
                            return;
                        }
                    }
                }
                next = pushed.recv() => match next {
                    Some(Push::Frame(frame)) => {
                        if sink.send(WsMessage::Text(frame.to_string())).await.is_err() {
                            break;
                        }
                    }
                    Some(Push::Reconnect) => {
                        let _ = sink.send(WsMessage::Text(json!({"op": 7, "d": null}).to_string())).await;
                        let _ = sink.close().await;
                        break;
                    }
                    None => break,
                }
            }
        }
        let mut live = state.live.lock().unwrap();
        if live.as_ref().is_some_and(|l| l.same_channel(&push)) {
            *live = None;
        }
    })
}

/// The gateway's answers to one client frame.
fn answer(state: &FakeState, frame: &Value, push: &mpsc::UnboundedSender<Push>) -> Vec<Value> {
    match frame["op"].as_u64() {
        Some(1) => {
            state.heartbeats.fetch_add(1, Ordering::SeqCst);
            vec![json!({"op": 11, "d": null})]
        }
        Some(2) => {
            if frame["d"]["token"] != format!("Bot {TOKEN}") && frame["d"]["token"] != TOKEN {
                return vec![];
            }
            state.identifies.fetch_add(1, Ordering::SeqCst);
            let url = state.ws_url.lock().unwrap().clone();
            let ready = json!({
                "v": 10, "user": bot_user(), "guilds": [], "session_id": "fake-session",
                "resume_gateway_url": url,
                "application": {"id": APP_ID.to_string(), "flags": 0}
            });
            let mut dispatched = state.dispatched.lock().unwrap();
            dispatched.clear();
            let frame = json!({"op": 0, "t": "READY", "s": 1, "d": ready});
            dispatched.push(frame.clone());
            *state.live.lock().unwrap() = Some(push.clone());
            vec![frame]
        }
        Some(6) => {
            state.resumes.fetch_add(1, Ordering::SeqCst);
            let after = frame["d"]["seq"].as_u64().unwrap_or(0);
            let dispatched = state.dispatched.lock().unwrap();
            let mut frames: Vec<Value> = dispatched
                .iter()
                .filter(|f| f["s"].as_u64().unwrap_or(0) > after)
                .cloned()
                .collect();
            let seq = dispatched.len() as u64 + 1;
            drop(dispatched);
            let resumed = json!({"op": 0, "t": "RESUMED", "s": seq, "d": {}});
            state.dispatched.lock().unwrap().push(resumed.clone());
            frames.push(resumed);
            *state.live.lock().unwrap() = Some(push.clone());
            frames
        }
        _ => vec![],
    }
}

impl FakeDiscord {
    pub async fn start() -> FakeDiscord {
        let state = Arc::new(FakeState::default());
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap();
        let addr = acceptor.local_addr()[0].as_socket_addr().copied().unwrap();
        *state.ws_url.lock().unwrap() = format!("ws://{addr}/gateway");
        let api = Route::new()
            .at("/gateway", get(gateway_url))
            .at("/gateway/bot", get(gateway_url))
            .at("/users/@me", get(current_user))
            .at("/users/@me/channels", post(open_dm))
            .at("/applications/:app/commands", put(set_commands))
            .at(
                "/channels/:channel/messages",
                post(create_message).get(channel_history),
            )
            .at(
                "/channels/:channel/messages/:message",
                poem::patch(edit_message).delete(delete_message),
            )
            .at(
                "/interactions/:id/:token/callback",
                post(interaction_callback),
            );
        let app = Route::new()
            .nest("/api/v10", api)
            .at("/gateway", get(gateway))
            .data(state.clone());
        tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
        FakeDiscord {
            url: format!("http://{addr}/api"),
            state,
        }
    }

    /// Sends a dispatch (op 0) to the bot, or keeps it for the resume when
    /// the bot is not connected.
    pub fn dispatch(&self, event: &str, data: Value) {
        let mut dispatched = self.state.dispatched.lock().unwrap();
        let seq = dispatched.len() as u64 + 1;
        let frame = json!({"op": 0, "t": event, "s": seq, "d": data});
        dispatched.push(frame.clone());
        if let Some(live) = self.state.live.lock().unwrap().as_ref() {
            let _ = live.send(Push::Frame(frame));
        }
    }

    /// Asks the connected bot to reconnect, and drops its connection; what
    /// is dispatched until it resumes waits for the resume.
    pub fn force_reconnect(&self) {
        if let Some(live) = self.state.live.lock().unwrap().take() {
            let _ = live.send(Push::Reconnect);
        }
    }

    pub async fn wait_connected(&self) {
        let deadline = Instant::now() + WAIT;
        while self.state.live.lock().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the bot never identified");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// `text` from user `from` in the server channel.
    pub fn say_in_channel(&self, from: u64, text: &str) {
        self.say_in_channel_with_id(from, text);
    }

    /// `text` from user `from` in the server channel; returns its id.
    pub fn say_in_channel_with_id(&self, from: u64, text: &str) -> String {
        let message = self.state.message(CHANNEL, user(from), text, true);
        let id = message["id"].as_str().unwrap().to_string();
        self.state.history.lock().unwrap().push(message.clone());
        self.dispatch("MESSAGE_CREATE", message);
        id
    }

    /// User `from` edits their channel message `id` to say `text`.
    pub fn edit_in_channel(&self, from: u64, id: &str, text: &str) {
        self.dispatch(
            "MESSAGE_UPDATE",
            json!({"id": id, "channel_id": CHANNEL.to_string(), "guild_id": GUILD.to_string(),
                   "author": user(from), "content": text,
                   "edited_timestamp": "2026-01-01T10:05:00.000000+00:00"}),
        );
    }

    /// Channel message `id` was deleted.
    pub fn delete_in_channel(&self, id: &str) {
        self.dispatch(
            "MESSAGE_DELETE",
            json!({"id": id, "channel_id": CHANNEL.to_string(), "guild_id": GUILD.to_string()}),
        );
    }

    /// `text` from user `from` in the server channel, mentioning the bot.
    pub fn mention(&self, from: u64, text: &str) {
        let mut message =
            self.state
                .message(CHANNEL, user(from), &format!("<@{BOT_ID}> {text}"), true);
        message["mentions"] = json!([bot_user()]);
        self.dispatch("MESSAGE_CREATE", message);
    }

    /// `text` from user `from` in their DM with the bot.
    pub fn dm(&self, from: u64, text: &str) {
        let message = self.state.message(DM_BASE + from, user(from), text, false);
        self.dispatch("MESSAGE_CREATE", message);
    }

    fn interaction(&self, kind: u8, from: u64, data: Value) -> Value {
        json!({
            "id": self.state.id(), "application_id": APP_ID.to_string(), "type": kind,
            "data": data, "channel_id": CHANNEL.to_string(),
            "user": user(from), "token": format!("itoken{}", self.state.id()), "version": 1,
            "locale": "en-US", "entitlements": [], "attachment_size_limit": 10_000_000
        })
    }

    /// User `from` runs the slash command `/name args` in the server
    /// channel.
    pub fn slash(&self, from: u64, name: &str, args: &str) {
        let mut data = json!({"id": self.state.id(), "name": name, "type": 1});
        if !args.is_empty() {
            data["options"] = json!([{"name": "args", "type": 3, "value": args}]);
        }
        let mut interaction = self.interaction(2, from, data);
        interaction["guild_id"] = json!(GUILD.to_string());
        self.dispatch("INTERACTION_CREATE", interaction);
    }

    /// User `from` presses the button `custom_id` under a bot message.
    pub fn press(&self, from: u64, custom_id: &str) {
        let mut interaction = self.interaction(
            3,
            from,
            json!({"custom_id": custom_id, "component_type": 2}),
        );
        interaction["message"] = self.state.message(CHANNEL, bot_user(), "proposal", false);
        self.dispatch("INTERACTION_CREATE", interaction);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.calls.lock().unwrap().clone()
    }

    /// Messages the bot posted (including refused attempts).
    pub fn sent(&self) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == "POST" && c.path.ends_with("/messages"))
            .collect()
    }

    /// Interaction answers the bot gave.
    pub fn answers(&self) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.path.starts_with("/interactions/"))
            .collect()
    }

    /// Waits until `calls` holds at least `n` items and returns the n-th.
    pub async fn nth(&self, n: usize, calls: impl Fn(&FakeDiscord) -> Vec<Call>) -> Call {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(call) = calls(self).get(n - 1) {
                return call.clone();
            }
            assert!(
                Instant::now() < deadline,
                "waited for call {n}: {:?}",
                self.calls()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Sends `text` as `from` in a DM and returns the bot's next message.
    pub async fn ask(&self, from: u64, text: &str) -> Call {
        let before = self.sent().len();
        self.dm(from, text);
        self.nth(before + 1, FakeDiscord::sent).await
    }
}

/// The buttons of a message or interaction answer: (label, custom_id).
pub fn buttons(body: &Value) -> Vec<(String, String)> {
    let rows = body["components"]
        .as_array()
        .or(body["data"]["components"].as_array())
        .cloned()
        .unwrap_or_default();
    rows.iter()
        .flat_map(|r| r["components"].as_array().cloned().unwrap_or_default())
        .map(|b| {
            (
                b["label"].as_str().unwrap_or_default().to_string(),
                b["custom_id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}
