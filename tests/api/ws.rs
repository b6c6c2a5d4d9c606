//! The WebSocket hub with real clients: sending, acks, resume, idempotency,
//! mentions, events, limits and a second instance on the same database.

use std::time::Duration;

use ea_crm::domain::events::{Audience, Event};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

use crate::chat::{group, say};
use crate::helpers::TestApp;

const WAIT: Duration = Duration::from_secs(5);

pub struct Client {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Frames read while looking for another type, kept in order.
    pending: Vec<Value>,
    /// The server's first frame.
    pub hello: Value,
}

impl Client {
    pub async fn connect(app: &TestApp, token: &str) -> Client {
        let mut request = app.ws_url().into_client_request().unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (socket, _) = connect_async(request).await.expect("websocket connects");
        let mut client = Client {
            socket,
            pending: Vec::new(),
            hello: Value::Null,
        };
        client.hello = client.next_of("hello").await;
        assert!(client.hello["user"].is_string());
        client
    }

    pub async fn send(&mut self, frame: Value) {
        self.socket
            .send(Message::text(frame.to_string()))
            .await
            .unwrap();
    }

    /// The next JSON frame, whatever its type.
    pub async fn next(&mut self) -> Value {
        if !self.pending.is_empty() {
            return self.pending.remove(0);
        }
        self.read().await
    }

    async fn read(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("a frame within the wait")
                .expect("socket open")
                .expect("frame reads");
            if let Message::Text(text) = message {
                return serde_json::from_str(&text).unwrap();
            }
        }
    }

    /// Waits for a presence frame that gives `user` the `status`; that
    /// user's entry.
    pub async fn presence_of(&mut self, user: &str, status: &str) -> Value {
        loop {
            let frame = self.next_of("presence").await;
            let change = frame["changes"]
                .as_array()
                .and_then(|c| c.iter().find(|p| p["user"] == user));
            if let Some(change) = change.filter(|p| p["status"] == status) {
                return change.clone();
            }
        }
    }

    /// The next frame of `kind`, skipping presence and other chatter.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        if let Some(i) = self.pending.iter().position(|f| f["type"] == kind) {
            return self.pending.remove(i);
        }
        loop {
            let frame = self.read().await;
            if frame["type"] == kind {
                return frame;
            }
            assert_ne!(frame["type"], "error", "unexpected error frame: {frame}");
            self.pending.push(frame);
        }
    }

    /// Reads to the server's close frame: the JSON frames before it and
    /// its close code.
    pub async fn until_closed(&mut self) -> (Vec<Value>, u16) {
        let mut got: Vec<Value> = self.pending.drain(..).collect();
        loop {
            let message = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("a frame within the wait");
            match message {
                Some(Ok(Message::Text(text))) => got.push(serde_json::from_str(&text).unwrap()),
                Some(Ok(Message::Close(frame))) => {
                    let code = frame.map_or(1005, |f| u16::from(f.code));
                    return (got, code);
                }
                Some(Ok(_)) => {}
                other => panic!("the socket ended without a close frame: {other:?}"),
            }
        }
    }

    /// Every frame that arrives within `window`, whatever its type.
    pub async fn collect_all(&mut self, window: Duration) -> Vec<Value> {
        let mut got: Vec<Value> = self.pending.drain(..).collect();
        let deadline = tokio::time::Instant::now() + window;
        while let Ok(Some(Ok(message))) =
            tokio::time::timeout_at(deadline, self.socket.next()).await
        {
            if let Message::Text(text) = message {
                got.push(serde_json::from_str(&text).unwrap());
            }
        }
        got
    }

    pub async fn collect_of(&mut self, kind: &str, window: Duration) -> Vec<Value> {
        let (mut got, rest): (Vec<Value>, Vec<Value>) =
            self.pending.drain(..).partition(|f| f["type"] == kind);
        self.pending = rest;
        let deadline = tokio::time::Instant::now() + window;
        while let Ok(Some(Ok(message))) =
            tokio::time::timeout_at(deadline, self.socket.next()).await
        {
            if let Message::Text(text) = message {
                let frame: Value = serde_json::from_str(&text).unwrap();
                if frame["type"] == kind {
                    got.push(frame);
                }
            }
        }
        got
    }

    pub async fn subscribe(&mut self, room: &str, after_seq: Option<i64>) -> Value {
        self.send(json!({"type": "subscribe", "room": room, "after_seq": after_seq}))
            .await;
        self.next_of("subscribed").await
    }

    /// Sends a message and returns its ack.
    pub async fn say(&mut self, room: &str, body: &str, client_id: &str) -> Value {
        self.send(json!({"type": "send", "room": room, "body": body, "client_id": client_id}))
            .await;
        let ack = self.next_of("ack").await;
        assert_eq!(ack["client_id"], client_id);
        ack
    }
}

/// How a read that may come to nothing ended.
pub enum Read {
    Frame(Value),
    /// Nothing came before the deadline.
    Quiet,
    /// The socket ended: the server's close code, if it sent a close frame.
    Closed(Option<u16>),
}

impl Client {
    /// The next frame if one comes before `deadline`; unlike `next`, a quiet
    /// or closed socket is an answer, not a failure.
    pub async fn next_before(&mut self, deadline: tokio::time::Instant) -> Read {
        if !self.pending.is_empty() {
            return Read::Frame(self.pending.remove(0));
        }
        loop {
            match tokio::time::timeout_at(deadline, self.socket.next()).await {
                Err(_) => return Read::Quiet,
                Ok(Some(Ok(Message::Text(text)))) => {
                    return Read::Frame(serde_json::from_str(&text).unwrap())
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return Read::Closed(frame.map(|f| u16::from(f.code)))
                }
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_)) | None) => return Read::Closed(None),
            }
        }
    }
}

fn bodies(frames: &[Value]) -> Vec<String> {
    frames
        .iter()
        .map(|f| f["message"]["body"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn two_users_exchange_messages_in_order_with_acks() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (ann, ann_token) = app.user_with_role(&admin, "ann", "user").await;
    let (bob, bob_token) = app.user_with_role(&admin, "bob", "user").await;
    let room = group(&app, &admin, "deal-room", &[&ann, &bob]).await;
    let mut ann_ws = Client::connect(&app, &ann_token).await;
    let mut bob_ws = Client::connect(&app, &bob_token).await;
    ann_ws.subscribe(&room, None).await;
    bob_ws.subscribe(&room, None).await;

    for (i, text) in ["hi bob", "price is 100", "deal?"].iter().enumerate() {
        let ack = ann_ws.say(&room, text, &format!("c{i}")).await;
        assert_eq!(ack["seq"], i as i64 + 1);
        assert!(ack["message_id"].is_string());
    }
    let mut received = Vec::new();
    for _ in 0..3 {
        received.push(bob_ws.next_of("message").await);
    }
    assert_eq!(bodies(&received), ["hi bob", "price is 100", "deal?"]);
    assert_eq!(received[2]["message"]["author"], ann.as_str());

    bob_ws.say(&room, "deal", "b1").await;
    let mut ann_got = Vec::new();
    while ann_got.len() < 4 {
        ann_got.push(ann_ws.next_of("message").await);
    }
    let seqs: Vec<i64> = ann_got
        .iter()
        .map(|f| f["message"]["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        [1, 2, 3, 4],
        "the sender sees its own messages too, in order"
    );
    assert_eq!(ann_got[3]["message"]["body"], "deal");
}

#[tokio::test]
async fn a_client_that_drops_and_resumes_gets_what_it_missed_with_no_gap_and_no_duplicate() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (bob, bob_token) = app.user_with_role(&admin, "bob", "user").await;
    let room = group(&app, &admin, "resume", &[&bob]).await;

    let mut bob_ws = Client::connect(&app, &bob_token).await;
    bob_ws.subscribe(&room, Some(0)).await;
    say(&app, &admin, &room, "m1").await;
    let first = bob_ws.next_of("message").await;
    let last_seen = first["message"]["seq"].as_i64().unwrap();
    drop(bob_ws);

    say(&app, &admin, &room, "m2").await;
    say(&app, &admin, &room, "m3").await;

    let mut bob_ws = Client::connect(&app, &bob_token).await;
    let subscribed = bob_ws.subscribe(&room, Some(last_seen)).await;
    assert_eq!(subscribed["last_seq"], 3);
    say(&app, &admin, &room, "m4").await;
    let mut got = Vec::new();
    while got.len() < 3 {
        got.push(bob_ws.next_of("message").await);
    }
    got.extend(
        bob_ws
            .collect_of("message", Duration::from_millis(300))
            .await,
    );
    assert_eq!(bodies(&got), ["m2", "m3", "m4"]);
}

#[tokio::test]
async fn a_retried_socket_send_with_the_same_idempotency_key_lands_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let room = group(&app, &admin, "retry", &[]).await;
    let mut ws = Client::connect(&app, &admin).await;
    ws.subscribe(&room, None).await;
    let send = json!({"type": "send", "room": room, "body": "once", "idempotency_key": "abc", "client_id": "1"});
    ws.send(send.clone()).await;
    let first = ws.next_of("ack").await;
    ws.send(send).await;
    let second = ws.next_of("ack").await;
    assert_eq!(first["message_id"], second["message_id"]);
    assert_eq!(first["duplicate"], false);
    assert_eq!(second["duplicate"], true);
    let mut seen = vec![ws.next_of("message").await];
    seen.extend(ws.collect_of("message", Duration::from_millis(300)).await);
    assert_eq!(bodies(&seen), ["once"]);
}

#[tokio::test]
async fn a_mention_arrives_live_as_a_notification_event() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (bob, bob_token) = app.user_with_role(&admin, "bob", "user").await;
    let room = group(&app, &admin, "mentions", &[&bob]).await;
    let mut bob_ws = Client::connect(&app, &bob_token).await;
    say(&app, &admin, &room, "@bob can you take this one?").await;
    let event = bob_ws.next_of("event").await;
    assert_eq!(event["topic"], "notification.created");
    assert_eq!(event["payload"]["kind"], "mention");
    assert_eq!(event["payload"]["room"], room.as_str());
    let count: Value = app
        .get("/api/v1/notifications/unread-count", &bob_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(count["unread_count"], 1);
}

#[tokio::test]
async fn a_non_member_cannot_follow_a_room_over_the_socket() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, eve_token) = app.user_with_role(&admin, "eve", "user").await;
    let room = group(&app, &admin, "board", &[]).await;
    say(&app, &admin, &room, "secret numbers").await;
    let mut eve_ws = Client::connect(&app, &eve_token).await;
    eve_ws
        .send(json!({"type": "subscribe", "room": room, "after_seq": 0}))
        .await;
    let error = loop {
        let frame = eve_ws.next().await;
        if frame["type"] == "error" {
            break frame;
        }
        assert_ne!(
            frame["type"], "message",
            "a non-member got a message: {frame}"
        );
    };
    assert_eq!(error["code"], "not_found");
    eve_ws
        .send(json!({"type": "send", "room": room, "body": "hi", "client_id": "x"}))
        .await;
    let error = eve_ws.next_of_error().await;
    assert_eq!(error["client_id"], "x");
    assert!(eve_ws
        .collect_of("message", Duration::from_millis(200))
        .await
        .is_empty());
}

#[tokio::test]
async fn pipelined_subscribes_to_a_private_room_deliver_none_of_its_edits_reactions_or_typing() {
    let app = TestApp::spawn_with(|c| c.typing_throttle_ms = 0).await;
    let admin = app.admin_token().await;
    let (_, eve_token) = app.user_with_role(&admin, "eve", "user").await;
    let room = group(&app, &admin, "board", &[]).await;
    let said = say(&app, &admin, &room, "secret numbers").await;
    let id = said["id"].as_str().unwrap();
    let mut admin_ws = Client::connect(&app, &admin).await;
    admin_ws.subscribe(&room, None).await;
    let mut eve_ws = Client::connect(&app, &eve_token).await;
    // Subscribes sent back to back while the room is busy.
    for _ in 0..20 {
        eve_ws
            .send(json!({"type": "subscribe", "room": room}))
            .await;
    }
    for n in 0..5 {
        app.patch(
            &format!("/api/v1/messages/{id}"),
            &admin,
            json!({"body": format!("secret numbers v{n}")}),
        )
        .await;
        admin_ws.send(json!({"type": "typing", "room": room})).await;
    }
    app.post(
        &format!("/api/v1/messages/{id}/reactions"),
        &admin,
        json!({"emoji": "👍"}),
    )
    .await;
    let seen = eve_ws.collect_all(Duration::from_millis(800)).await;
    let errors = seen.iter().filter(|f| f["type"] == "error").count();
    assert_eq!(errors, 20, "each subscribe is refused: {seen:?}");
    let leaked: Vec<&Value> = seen
        .iter()
        .filter(|f| !["error", "presence"].contains(&f["type"].as_str().unwrap()))
        .collect();
    assert!(
        leaked.is_empty(),
        "a non-member got room frames: {leaked:?}"
    );
}

impl Client {
    async fn next_of_error(&mut self) -> Value {
        loop {
            let frame = self.next().await;
            if frame["type"] == "error" {
                return frame;
            }
        }
    }
}

#[tokio::test]
async fn an_oversized_frame_closes_the_socket_with_code_1009() {
    let app = TestApp::spawn_with(|c| c.ws_max_message_kb = 1).await;
    let admin = app.admin_token().await;
    let mut ws = Client::connect(&app, &admin).await;
    ws.socket
        .send(Message::text("x".repeat(4096)))
        .await
        .unwrap();
    let close = loop {
        match tokio::time::timeout(WAIT, ws.socket.next())
            .await
            .expect("closed in time")
        {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(u16::from(close.expect("a close code").code), 1009);
}

#[tokio::test]
async fn the_socket_refuses_missing_credentials_and_cross_site_cookies() {
    let app = TestApp::spawn().await;
    let url = app.ws_url();
    let refused = connect_async(url.clone())
        .await
        .expect_err("no credentials");
    match refused {
        tokio_tungstenite::tungstenite::Error::Http(response) => {
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED.as_u16())
        }
        other => panic!("unexpected {other:?}"),
    }

    let login = app
        .cookie_login_response("admin", crate::helpers::ADMIN_PASSWORD)
        .await;
    let cookie = crate::helpers::set_cookies(&login)
        .into_iter()
        .find(|v| v.starts_with("ea_session="))
        .and_then(|v| v.split(';').next().map(str::to_string))
        .unwrap();
    let host = app.base.trim_start_matches("http://").to_string();
    let with_origin = |origin: &str| {
        let mut request = url.clone().into_client_request().unwrap();
        request
            .headers_mut()
            .insert("cookie", cookie.parse().unwrap());
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
        request
    };
    let refused = connect_async(with_origin("https://evil.example"))
        .await
        .expect_err("cross-site");
    match refused {
        tokio_tungstenite::tungstenite::Error::Http(response) => {
            assert_eq!(response.status(), StatusCode::FORBIDDEN.as_u16())
        }
        other => panic!("unexpected {other:?}"),
    }
    let (mut socket, _) = connect_async(with_origin(&format!("http://{host}")))
        .await
        .expect("same-origin cookie socket");
    let hello = socket.next().await.unwrap().unwrap();
    assert!(hello.to_text().unwrap().contains("\"hello\""));
}

/// The status a refused upgrade was answered with.
async fn refused_status(request: impl IntoClientRequest + Unpin) -> u16 {
    match connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("unexpected {other:?}"),
        Ok(_) => panic!("the socket opened"),
    }
}

async fn ticket(app: &TestApp, token: &str) -> String {
    let response = app.post("/api/v1/ws/ticket", token, json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["ticket"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_socket_ticket_opens_one_socket_once_and_a_token_in_the_url_is_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, ann_token) = app.user_with_role(&admin, "ann", "user").await;

    // A token in the URL is refused, even a good one.
    let with_token = format!("{}?token={ann_token}", app.ws_url());
    assert_eq!(refused_status(with_token).await, 401);

    // A ticket opens a socket as the user who asked for it.
    let first = ticket(&app, &ann_token).await;
    assert!(!first.contains(&ann_token));
    let url = format!("{}?ticket={first}", app.ws_url());
    let (mut socket, _) = connect_async(url.clone()).await.expect("ticket socket");
    let hello: Value =
        serde_json::from_str(socket.next().await.unwrap().unwrap().to_text().unwrap()).unwrap();
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["username"], "ann");
    // Once.
    assert_eq!(refused_status(url).await, 401);

    // Unused past its 30 s, it is refused.
    let late = ticket(&app, &ann_token).await;
    app.clock.advance(chrono::Duration::seconds(31));
    let late_url = format!("{}?ticket={late}", app.ws_url());
    assert_eq!(refused_status(late_url).await, 401);

    // A ticket outlives nothing: signed out, its session's tickets open
    // nothing.
    let ann_again = app.login("ann", crate::helpers::USER_PASSWORD).await;
    let orphan = ticket(&app, &ann_again).await;
    let logout = app.post("/api/v1/auth/logout", &ann_again, json!({})).await;
    assert!(logout.status().is_success());
    let orphan_url = format!("{}?ticket={orphan}", app.ws_url());
    assert_eq!(refused_status(orphan_url).await, 401);
    // An unknown ticket is refused like a spent one.
    let unknown = format!("{}?ticket=no-such-ticket", app.ws_url());
    assert_eq!(refused_status(unknown).await, 401);
}

#[tokio::test]
async fn domain_events_reach_only_their_audience() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (ann, ann_token) = app.user_with_role(&admin, "ann", "user").await;
    let (_, bob_token) = app.user_with_role(&admin, "bob", "user").await;
    let mut ann_ws = Client::connect(&app, &ann_token).await;
    let mut bob_ws = Client::connect(&app, &bob_token).await;
    app.ctx().events.publish(Event::new(
        "lead.created",
        Audience::Users(vec![ann]),
        json!({"id": "lead-1"}),
    ));
    app.ctx().events.publish(Event::new(
        "import.progress",
        Audience::Everyone,
        json!({"done": 10}),
    ));
    let first = ann_ws.next_of("event").await;
    assert_eq!(first["topic"], "lead.created");
    assert_eq!(first["payload"]["id"], "lead-1");
    let bob_events = bob_ws.collect_of("event", Duration::from_millis(300)).await;
    let topics: Vec<&str> = bob_events
        .iter()
        .map(|e| e["topic"].as_str().unwrap())
        .collect();
    assert_eq!(topics, ["import.progress"]);
}

#[tokio::test]
async fn a_socket_opened_with_a_key_narrowed_to_chat_gets_no_lead_or_task_events() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (ann, ann_token) = app.user_with_role(&admin, "ann", "user").await;
    let key: Value = app
        .post(
            "/api/v1/api-keys",
            &ann_token,
            json!({"name": "chat only", "permissions": ["chat.use"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let mut full = Client::connect(&app, &ann_token).await;
    let mut narrowed = Client::connect(&app, key["key"].as_str().unwrap()).await;
    for topic in ["lead.created", "task.assigned", "notification.created"] {
        app.ctx().events.publish(Event::new(
            topic,
            Audience::Users(vec![ann.clone()]),
            json!({"id": "x"}),
        ));
    }
    let topics = |events: Vec<Value>| -> Vec<String> {
        events
            .iter()
            .map(|e| e["topic"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        topics(full.collect_of("event", Duration::from_millis(400)).await),
        ["lead.created", "task.assigned", "notification.created"]
    );
    assert_eq!(
        topics(
            narrowed
                .collect_of("event", Duration::from_millis(400))
                .await
        ),
        ["notification.created"],
        "the key may use the chat, nothing else"
    );
}

#[tokio::test]
async fn subscribes_count_against_the_credentials_request_limit() {
    let app = TestApp::spawn_with(|c| c.rate_limit_per_token = 5).await;
    let admin = app.admin_token().await;
    let room = group(&app, &admin, "limited", &[]).await;
    let socket_token = app.admin_token().await;
    let mut ws = Client::connect(&app, &socket_token).await;
    for _ in 0..8 {
        ws.send(json!({"type": "subscribe", "room": room})).await;
    }
    let mut subscribed = 0;
    let mut limited = 0;
    while subscribed + limited < 8 {
        let frame = ws.next().await;
        match frame["type"].as_str() {
            Some("subscribed") => subscribed += 1,
            Some("error") => {
                assert_eq!(frame["code"], "rate_limited", "{frame}");
                limited += 1;
            }
            _ => {}
        }
    }
    assert!(
        subscribed <= 5,
        "at most the limit went through: {subscribed}"
    );
    assert!(limited >= 3, "the rest were refused: {limited}");
}

#[tokio::test]
async fn typing_indicators_are_throttled() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (bob, bob_token) = app.user_with_role(&admin, "bob", "user").await;
    let room = group(&app, &admin, "typing", &[&bob]).await;
    let mut admin_ws = Client::connect(&app, &admin).await;
    let mut bob_ws = Client::connect(&app, &bob_token).await;
    admin_ws.subscribe(&room, None).await;
    bob_ws.subscribe(&room, None).await;
    for _ in 0..10 {
        admin_ws.send(json!({"type": "typing", "room": room})).await;
    }
    let typing = bob_ws
        .collect_of("typing", Duration::from_millis(400))
        .await;
    assert_eq!(typing.len(), 1);
    assert_eq!(typing[0]["room"], room.as_str());
}

#[tokio::test]
async fn a_message_stored_by_another_instance_reaches_this_instances_clients() {
    let first = TestApp::spawn().await;
    let second = first.second_instance().await;
    let admin = first.admin_token().await;
    let (bob, bob_token) = first.user_with_role(&admin, "bob", "user").await;
    let room = group(&first, &admin, "two-servers", &[&bob]).await;

    let mut bob_ws = Client::connect(&first, &bob_token).await;
    bob_ws.subscribe(&room, None).await;
    let admin_on_second = second.admin_token().await;
    say(&second, &admin_on_second, &room, "from the other server").await;
    say(&second, &admin_on_second, &room, "and another").await;
    let mut got = vec![
        bob_ws.next_of("message").await,
        bob_ws.next_of("message").await,
    ];
    got.extend(
        bob_ws
            .collect_of("message", Duration::from_millis(300))
            .await,
    );
    assert_eq!(bodies(&got), ["from the other server", "and another"]);
}

#[tokio::test]
async fn an_open_socket_is_closed_after_its_session_logs_out() {
    let app = TestApp::spawn_with(|c| c.ws_auth_recheck_ms = 100).await;
    let admin = app.admin_token().await;
    let (_, bob_token) = app.user_with_role(&admin, "bob", "user").await;
    let mut ws = Client::connect(&app, &bob_token).await;
    let response = app.post("/api/v1/auth/logout", &bob_token, json!({})).await;
    assert!(response.status().is_success());
    let close = loop {
        match tokio::time::timeout(WAIT, ws.socket.next())
            .await
            .expect("closed in time")
        {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(u16::from(close.expect("a close code").code), 4001);
}

#[tokio::test]
async fn marking_notifications_read_updates_the_users_other_connections() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (bob, bob_token) = app.user_with_role(&admin, "bob", "user").await;
    let room = group(&app, &admin, "badges", &[&bob]).await;
    say(&app, &admin, &room, "@bob one").await;
    say(&app, &admin, &room, "@bob two").await;
    let mut bob_ws = Client::connect(&app, &bob_token).await;
    let response = app
        .post("/api/v1/notifications/read", &bob_token, json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let event = bob_ws.next_of("event").await;
    assert_eq!(event["topic"], "notifications.read");
    assert_eq!(event["payload"]["unread_count"], 0);
}

#[tokio::test]
async fn resuming_from_far_back_delivers_a_long_backlog_in_pages_without_gaps() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let room = group(&app, &admin, "backlog", &[]).await;
    let total = 230;
    for i in 1..=total {
        say(&app, &admin, &room, &format!("m{i}")).await;
    }
    let mut ws = Client::connect(&app, &admin).await;
    ws.subscribe(&room, Some(0)).await;
    let mut seqs = Vec::new();
    while seqs.len() < total {
        let frame = ws.next_of("message").await;
        seqs.push(frame["message"]["seq"].as_i64().unwrap());
    }
    assert_eq!(seqs, (1..=total as i64).collect::<Vec<_>>());
}

#[tokio::test]
async fn others_see_a_user_come_online_go_away_and_go_offline() {
    let app = TestApp::spawn_with(|c| c.presence_flush_ms = 50).await;
    let admin = app.admin_token().await;
    let (bob, bob_token) = app.user_with_role(&admin, "bob", "user").await;
    let mut watcher = Client::connect(&app, &admin).await;
    let mut bob_ws = Client::connect(&app, &bob_token).await;
    watcher.presence_of(&bob, "online").await;
    bob_ws
        .send(json!({"type": "presence", "status": "away"}))
        .await;
    watcher.presence_of(&bob, "away").await;
    drop(bob_ws);
    let offline = watcher.presence_of(&bob, "offline").await;
    assert!(offline["last_seen"].is_string());
}

/// Bob connects to `second`; a watcher on `first` sees him come online,
/// finds him in a fresh connection's `hello`, and sees him go offline when
/// his last connection closes. Shared with the scale-out test, which runs it
/// on two instances of a real SurrealDB server.
pub async fn presence_crosses_instances(first: &TestApp, second: &TestApp) {
    let admin = first.admin_token().await;
    let (bob, bob_token) = first.user_with_role(&admin, "bob", "user").await;
    let mut watcher = Client::connect(first, &admin).await;
    let bob_ws = Client::connect(second, &bob_token).await;
    watcher.presence_of(&bob, "online").await;
    let late = Client::connect(first, &admin).await;
    let hello = &late.hello;
    let bob_in_hello = hello["presence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["user"] == bob.as_str())
        .cloned();
    assert_eq!(
        bob_in_hello.map(|p| p["status"].clone()),
        Some(json!("online")),
        "a new connection on the first instance is told bob is online: {hello}"
    );
    drop(bob_ws);
    watcher.presence_of(&bob, "offline").await;
}

/// Bob types on `second`; the admin, following the room on `first`, sees
/// it once however fast Bob types, and Bob's own socket is not told.
/// Shared with the scale-out test.
pub async fn typing_crosses_instances(first: &TestApp, second: &TestApp) {
    let admin = first.admin_token().await;
    let (bob, bob_token) = first.user_with_role(&admin, "bob", "user").await;
    let room = group(first, &admin, "typing-across", &[&bob]).await;
    let mut watcher = Client::connect(first, &admin).await;
    watcher.subscribe(&room, None).await;
    let mut bob_ws = Client::connect(second, &bob_token).await;
    bob_ws.subscribe(&room, None).await;
    for _ in 0..5 {
        bob_ws.send(json!({"type": "typing", "room": room})).await;
    }
    let seen = watcher.next_of("typing").await;
    assert_eq!(seen["room"], room.as_str());
    assert_eq!(seen["user"], bob.as_str());
    let more = watcher
        .collect_of("typing", Duration::from_millis(400))
        .await;
    assert!(more.is_empty(), "told once per throttle period: {more:?}");
    let echoed = bob_ws
        .collect_of("typing", Duration::from_millis(200))
        .await;
    assert!(echoed.is_empty(), "the typist is not told: {echoed:?}");
}

#[tokio::test]
async fn someone_typing_on_one_instance_shows_on_another() {
    let first = TestApp::spawn_with(|c| c.presence_flush_ms = 50).await;
    let second = first
        .second_instance_with(|c| c.presence_flush_ms = 50)
        .await;
    typing_crosses_instances(&first, &second).await;
}

#[tokio::test]
async fn a_user_connected_to_one_instance_shows_online_on_another() {
    let first = TestApp::spawn_with(|c| c.presence_flush_ms = 50).await;
    let second = first
        .second_instance_with(|c| c.presence_flush_ms = 50)
        .await;
    presence_crosses_instances(&first, &second).await;
}

#[tokio::test]
async fn followers_see_edits_and_deletes_live() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (bob, bob_token) = app.user_with_role(&admin, "bob", "user").await;
    let room = group(&app, &admin, "live-edits", &[&bob]).await;
    let mut bob_ws = Client::connect(&app, &bob_token).await;
    bob_ws.subscribe(&room, None).await;
    let message = say(&app, &admin, &room, "meeting at 3").await;
    let id = message["id"].as_str().unwrap();
    app.patch(
        &format!("/api/v1/messages/{id}"),
        &admin,
        json!({"body": "meeting at 4"}),
    )
    .await;
    let edited = bob_ws.next_of("event").await;
    assert_eq!(edited["topic"], "message.updated");
    assert_eq!(edited["payload"]["body"], "meeting at 4");
    app.delete(&format!("/api/v1/messages/{id}"), &admin).await;
    let deleted = bob_ws.next_of("event").await;
    assert!(deleted["payload"]["deleted_at"].is_string());
    assert_eq!(deleted["payload"]["body"], "");
}

#[tokio::test]
async fn a_removed_member_stops_receiving_the_rooms_messages_on_the_socket() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (bob, bob_token) = app.user_with_role(&admin, "bob", "user").await;
    let room = group(&app, &admin, "closing", &[&bob]).await;
    let mut bob_ws = Client::connect(&app, &bob_token).await;
    bob_ws.subscribe(&room, None).await;
    say(&app, &admin, &room, "before").await;
    assert_eq!(bob_ws.next_of("message").await["message"]["body"], "before");

    let response = app
        .delete(&format!("/api/v1/rooms/{room}/members/{bob}"), &admin)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let event = bob_ws.next_of("event").await;
    assert_eq!(event["topic"], "room.member_removed");
    say(&app, &admin, &room, "after").await;
    let later = bob_ws
        .collect_of("message", Duration::from_millis(500))
        .await;
    assert!(later.is_empty(), "a removed member still got {later:?}");
}

#[tokio::test]
async fn reading_a_room_on_one_connection_tells_the_users_other_connections() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (bob, bob_token) = app.user_with_role(&admin, "bob", "user").await;
    let room = group(&app, &admin, "desk", &[&bob]).await;
    say(&app, &admin, &room, "one").await;
    say(&app, &admin, &room, "two").await;
    let mut bob_ws = Client::connect(&app, &bob_token).await;
    let response = app
        .put_json(
            &format!("/api/v1/rooms/{room}/read"),
            &bob_token,
            json!({"seq": 2}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let event = bob_ws.next_of("event").await;
    assert_eq!(event["topic"], "room.read");
    assert_eq!(event["payload"], json!({"room": room, "seq": 2}));
}

#[tokio::test]
async fn a_room_read_through_one_instance_is_told_to_the_users_sockets_on_another() {
    let app = TestApp::spawn().await;
    let other = app.second_instance().await;
    let admin = app.admin_token().await;
    let (bob, bob_token) = app.user_with_role(&admin, "bob", "user").await;
    let room = group(&app, &admin, "desk", &[&bob]).await;
    say(&app, &admin, &room, "one").await;
    let mut bob_ws = Client::connect(&other, &bob_token).await;
    let response = app
        .put_json(
            &format!("/api/v1/rooms/{room}/read"),
            &bob_token,
            json!({"seq": 1}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let event = bob_ws.next_of("event").await;
    assert_eq!(event["topic"], "room.read");
    assert_eq!(event["payload"], json!({"room": room, "seq": 1}));
}
