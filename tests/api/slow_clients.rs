//! Clients that dawdle cannot hold connections: headers trickled a byte at
//! a time, a kept-alive connection left idle, a body that stops arriving,
//! and a WebSocket peer that vanished without closing are all cut off
//! after `HTTP_READ_TIMEOUT_SECONDS`.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use crate::chat::group;
use crate::helpers::TestApp;
use crate::ws::Client;

/// The read timeout the apps here run with.
const TIMEOUT_SECS: u64 = 1;
/// Far longer than the timeout: a connection still open this long after
/// it should have been cut off was not.
const GIVE_UP: Duration = Duration::from_secs(10);

async fn app() -> TestApp {
    TestApp::spawn_with(|c| c.http_read_timeout_seconds = TIMEOUT_SECS).await
}

async fn raw(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .expect("connects")
}

/// Reads until the server closes the connection; what it sent, and when
/// it closed. Panics if it is still open after `GIVE_UP`.
async fn read_until_closed(socket: &mut TcpStream) -> (String, Instant) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(GIVE_UP, socket.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (String::from_utf8_lossy(&got).into(), Instant::now())
            }
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the connection was still open after {GIVE_UP:?}"),
        }
    }
}

#[tokio::test]
async fn headers_trickled_a_byte_at_a_time_are_cut_off() {
    let app = app().await;
    let mut socket = raw(&app).await;
    let started = Instant::now();
    socket
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // One header byte every 200 ms: each read is within any per-read
    // timeout, the request is never complete.
    let trickle = async {
        for byte in b"X-Slow: ".iter().cycle() {
            if socket.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let closed = tokio::time::timeout(GIVE_UP, trickle).await;
    assert!(
        closed.is_ok(),
        "the server still took header bytes after {GIVE_UP:?}"
    );
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(TIMEOUT_SECS + 3),
        "cut off after {took:?}"
    );
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_and_a_busy_one_is_not() {
    let app = app().await;
    let mut socket = raw(&app).await;
    // A connection that keeps asking is served past the timeout.
    for _ in 0..4 {
        socket
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 4096];
        let n = tokio::time::timeout(GIVE_UP, socket.read(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        assert!(
            String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&buf[..n])
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Then it falls silent, and is closed.
    let silent_from = Instant::now();
    let (_, closed_at) = read_until_closed(&mut socket).await;
    let idle = closed_at - silent_from;
    assert!(
        idle >= Duration::from_millis(400) && idle < Duration::from_secs(TIMEOUT_SECS + 3),
        "closed after {idle:?} of silence"
    );
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_answered_408_and_the_service_carries_on() {
    let app = app().await;
    let mut socket = raw(&app).await;
    socket
        .write_all(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 200\r\n\r\n{\"username\":",
        )
        .await
        .unwrap();
    let (answer, _) = read_until_closed(&mut socket).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let body = &answer[answer.find("\r\n\r\n").expect("a body") + 4..];
    let body = body
        .find('{')
        .map(|start| &body[start..body.rfind('}').unwrap() + 1])
        .expect("a JSON body");
    let error: Value = serde_json::from_str(body).unwrap();
    assert_eq!(error["error"]["code"], "request_timeout", "{error}");
    let health = app.client.get(app.url("/healthz")).send().await;
    assert!(health.unwrap().status().is_success());
}

#[tokio::test]
async fn a_socket_peer_that_stops_answering_pings_is_dropped_and_a_live_one_stays() {
    let app = app().await;
    let admin = app.admin_token().await;
    let room = group(&app, &admin, "pings", &[]).await;

    // The live client reads all along, so its library answers each ping.
    let mut live = Client::connect(&app, &admin).await;

    // The silent one connects, then reads nothing: no pongs go back.
    let mut request = app.ws_url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {admin}").parse().unwrap());
    let (mut silent, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let silent_from = Instant::now();
    let frames = live
        .collect_all(Duration::from_secs(TIMEOUT_SECS * 3 + 1))
        .await;
    drop(frames);

    // Reading now, the silent client finds pings, then the close.
    let close = loop {
        match tokio::time::timeout(GIVE_UP, silent.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => break frame,
            Ok(Some(Ok(_))) => continue,
            other => panic!("no close frame for the silent client: {other:?}"),
        }
    };
    let close = close.expect("a close frame with a code");
    assert_eq!(close.code, CloseCode::Away, "{close:?}");
    assert!(silent_from.elapsed() >= Duration::from_secs(TIMEOUT_SECS * 2));

    // The live client, past the same silence, still works.
    live.send(serde_json::json!({"type": "subscribe", "room": room}))
        .await;
    live.next_of("subscribed").await;
    live.send(
        serde_json::json!({"type": "send", "room": room, "client_id": "c1", "body": "still here"}),
    )
    .await;
    let ack = live.next_of("ack").await;
    assert_eq!(ack["client_id"], "c1", "{ack}");
    let _ = silent.close(None).await;
}
