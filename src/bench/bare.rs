//! `ea-crm bench bare-server`: the baseline the hub is measured against.
//! A WebSocket room broadcast on the same stack (poem, `TCP_NODELAY`) that
//! speaks the bench's frames: `subscribe` follows a room, `send` is
//! numbered in memory, acknowledged and broadcast, serialised once; so is
//! a `POST /rooms/{room}/messages` with a JSON `body`, answered with the
//! numbered message. No sign-in, no storage, no resume: the least that does
//! the same job.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use poem::listener::{Listener, TcpListener};
use poem::web::websocket::{Message, WebSocket, WebSocketStream};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use crate::http::acceptor::NoDelayAcceptor;

#[derive(Default)]
struct Room {
    seq: i64,
    followers: Vec<mpsc::UnboundedSender<Arc<str>>>,
}

type Rooms = Arc<Mutex<HashMap<String, Room>>>;

#[derive(Deserialize)]
struct ClientFrame {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    room: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    body: String,
}

/// Serves until the process is stopped.
pub async fn serve(bind: SocketAddr) -> std::io::Result<()> {
    let acceptor = TcpListener::bind(bind).into_acceptor().await?;
    let rooms: Rooms = Arc::default();
    let endpoint = poem::endpoint::make(move |req: poem::Request| {
        let rooms = rooms.clone();
        async move {
            if req.method() == poem::http::Method::POST {
                return rest_post(req, &rooms).await;
            }
            match <WebSocket as poem::FromRequest>::from_request_without_body(&req).await {
                Ok(ws) => poem::IntoResponse::into_response(
                    ws.on_upgrade(move |socket| client(socket, rooms)),
                ),
                Err(e) => e.into_response(),
            }
        }
    });
    poem::Server::new_with_acceptor(NoDelayAcceptor(acceptor))
        .run(endpoint)
        .await
}

#[derive(Deserialize)]
struct PostBody {
    #[serde(default)]
    body: String,
}

/// `POST /rooms/{room}/messages`: the REST send.
async fn rest_post(req: poem::Request, rooms: &Rooms) -> poem::Response {
    let room = req
        .uri()
        .path()
        .strip_prefix("/rooms/")
        .and_then(|rest| rest.strip_suffix("/messages"))
        .map(str::to_string);
    let Some(room) = room else {
        return poem::Response::builder()
            .status(poem::http::StatusCode::NOT_FOUND)
            .finish();
    };
    let Ok(bytes) = req.into_body().into_vec().await else {
        return poem::Response::builder()
            .status(poem::http::StatusCode::BAD_REQUEST)
            .finish();
    };
    let Ok(post) = serde_json::from_slice::<PostBody>(&bytes) else {
        return poem::Response::builder()
            .status(poem::http::StatusCode::BAD_REQUEST)
            .finish();
    };
    let seq = broadcast(rooms, &room, &post.body);
    poem::Response::builder()
        .content_type("application/json")
        .body(json!({"message": {"seq": seq, "room": room, "body": post.body}}).to_string())
}

/// Numbers a message in its room and queues it for every follower.
fn broadcast(rooms: &Rooms, room_name: &str, body: &str) -> i64 {
    let mut rooms = rooms.lock().unwrap_or_else(|e| e.into_inner());
    let room = rooms.entry(room_name.to_string()).or_default();
    room.seq += 1;
    let message: Arc<str> = Arc::from(
        json!({"type": "message", "room": room_name,
            "message": {"seq": room.seq, "room": room_name, "body": body}})
        .to_string(),
    );
    room.followers
        .retain(|follower| follower.send(message.clone()).is_ok());
    room.seq
}

async fn client(socket: WebSocketStream, rooms: Rooms) {
    let (mut sink, mut stream) = socket.split();
    let (out, mut queued) = mpsc::unbounded_channel::<Arc<str>>();
    let writer = tokio::spawn(async move {
        while let Some(first) = queued.recv().await {
            // What queued meanwhile goes out in the same write.
            let mut batch = vec![first];
            while let Ok(more) = queued.try_recv() {
                batch.push(more);
            }
            for text in batch {
                if sink.feed(Message::Text(text.to_string())).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    while let Some(Ok(Message::Text(text))) = stream.next().await {
        let Ok(frame) = serde_json::from_str::<ClientFrame>(&text) else {
            continue;
        };
        let reply = match frame.kind.as_str() {
            "subscribe" => {
                let mut rooms = rooms.lock().unwrap_or_else(|e| e.into_inner());
                let room = rooms.entry(frame.room.clone()).or_default();
                room.followers.push(out.clone());
                json!({"type": "subscribed", "room": frame.room, "last_seq": room.seq})
            }
            "send" => {
                let seq = broadcast(&rooms, &frame.room, &frame.body);
                json!({"type": "ack", "client_id": frame.client_id, "room": frame.room, "seq": seq})
            }
            _ => continue,
        };
        if out.send(Arc::from(reply.to_string())).is_err() {
            break;
        }
    }
    writer.abort();
}
