//! `ea-crm bench chat`: the realtime hub under load, end to end. Starts the
//! real service in memory on a random port, signs in N users, puts them in
//! one room and has each send M messages over its own WebSocket (each send
//! waits for its ack), while every client receives every message. Reports
//! throughput, ack latency and delivery latency.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bench_ws_client::tungstenite::Message;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};

use crate::app::App;
use crate::config::Config;
use crate::domain::actor::{Actor, Channel};
use crate::domain::chat::rooms::{self, NewRoom};
use crate::domain::sessions::{self, ClientInfo};
use crate::domain::tokens;
use crate::domain::users::{self, NewUser};

#[derive(Debug, Clone, Copy)]
pub struct ChatBench {
    pub clients: usize,
    pub messages: usize,
}

#[derive(Debug, Clone)]
pub struct ChatReport {
    pub clients: usize,
    pub sent: usize,
    /// Messages received over all sockets (each message reaches every client).
    pub delivered: usize,
    pub elapsed: Duration,
    /// Ack latency percentiles: 50th, 95th, 99th.
    pub ack: [Duration; 3],
    /// Send-to-receive latency percentiles over all deliveries.
    pub delivery: [Duration; 3],
}

impl fmt::Display for ChatReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64().max(f64::EPSILON);
        writeln!(f, "clients:     {}", self.clients)?;
        writeln!(
            f,
            "sent:        {} messages in {:.2} s ({:.0} msg/s)",
            self.sent,
            secs,
            self.sent as f64 / secs
        )?;
        writeln!(
            f,
            "delivered:   {} frames ({:.0} /s)",
            self.delivered,
            self.delivered as f64 / secs
        )?;
        writeln!(
            f,
            "ack:         p50 {:?}  p95 {:?}  p99 {:?}",
            self.ack[0], self.ack[1], self.ack[2]
        )?;
        write!(
            f,
            "delivery:    p50 {:?}  p95 {:?}  p99 {:?}",
            self.delivery[0], self.delivery[1], self.delivery[2]
        )
    }
}

/// How long the whole run may take before it is called failed.
const DEADLINE: Duration = Duration::from_secs(300);

pub async fn chat(mut config: Config, bench: ChatBench) -> anyhow::Result<ChatReport> {
    anyhow::ensure!(
        bench.clients >= 1 && bench.messages >= 1,
        "need at least one client and one message"
    );
    // A throwaway service: in memory, on a random port, with limits that
    // would otherwise throttle the load we mean to make.
    config.database_url = "mem://".into();
    config.bind = "127.0.0.1:0".into();
    config.admin_password = Some(tokens::generate_password());
    config.rate_limit_per_ip = u32::MAX;
    config.rate_limit_per_token = u32::MAX;
    config.login_max_attempts_per_ip = u32::MAX;
    let app = App::build(config).await?;
    let addr = app.addr;
    let ctx = app.ctx.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));

    let system = Actor::system();
    let mut tokens_and_ids = Vec::new();
    for i in 0..bench.clients {
        let username = format!("bench{i}");
        let password = tokens::generate_password();
        let user = users::create(
            &ctx,
            &system,
            NewUser {
                username: username.clone(),
                email: format!("{username}@bench.invalid"),
                display_name: None,
                password: password.clone(),
                role: "user".into(),
                extra_permissions: vec![],
                timezone: None,
            },
        )
        .await?;
        let session = sessions::login(&ctx, &username, &password, &ClientInfo::default()).await?;
        tokens_and_ids.push((session.token, user.id));
    }
    let owner = sessions::authenticate_session(&ctx, &tokens_and_ids[0].0, Channel::Api)
        .await?
        .actor;
    let room = rooms::create(
        &ctx,
        &owner,
        NewRoom {
            name: "bench".into(),
            kind: "group".into(),
            members: tokens_and_ids
                .iter()
                .skip(1)
                .map(|(_, id)| id.clone())
                .collect(),
            ..NewRoom::default()
        },
    )
    .await?
    .id;
    drop(ctx);

    let start = Arc::new(Instant::now());
    let mut sockets = Vec::new();
    for (token, _) in &tokens_and_ids {
        let (mut socket, _) =
            bench_ws_client::connect_async(format!("ws://{addr}/api/v1/ws?token={token}")).await?;
        socket
            .send(Message::text(
                json!({"type": "subscribe", "room": room}).to_string(),
            ))
            .await?;
        loop {
            let frame = next_frame(&mut socket).await?;
            if frame["type"] == "subscribed" {
                break;
            }
        }
        sockets.push(socket);
    }
    let began = Instant::now();
    let expected = bench.clients * bench.messages;
    let runs = sockets.into_iter().enumerate().map(|(i, socket)| {
        let room = room.clone();
        let start = start.clone();
        tokio::spawn(run_client(socket, i, room, bench.messages, expected, start))
    });
    let results = tokio::time::timeout(DEADLINE, futures_util::future::join_all(runs)).await?;
    let elapsed = began.elapsed();
    let mut acks = Vec::new();
    let mut deliveries = Vec::new();
    for result in results {
        let (a, d) = result??;
        acks.extend(a);
        deliveries.extend(d);
    }
    let _ = stop.send(());
    let _ = server.await;
    Ok(ChatReport {
        clients: bench.clients,
        sent: acks.len(),
        delivered: deliveries.len(),
        elapsed,
        ack: percentiles(&mut acks),
        delivery: percentiles(&mut deliveries),
    })
}

type Socket =
    bench_ws_client::WebSocketStream<bench_ws_client::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_frame(socket: &mut Socket) -> anyhow::Result<Value> {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(&text)?),
            Some(Ok(Message::Close(frame))) => {
                anyhow::bail!("the server closed the socket: {frame:?}")
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => anyhow::bail!("the socket ended"),
        }
    }
}

/// One client: sends its messages one after another (each after the
/// previous ack) and reads until it has seen all `expected` messages.
async fn run_client(
    mut socket: Socket,
    index: usize,
    room: String,
    messages: usize,
    expected: usize,
    start: Arc<Instant>,
) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    let mut acks = Vec::with_capacity(messages);
    let mut deliveries = Vec::with_capacity(expected);
    let mut sent = 0;
    let mut sent_at = Instant::now();
    let send = |n: usize| {
        let micros = start.elapsed().as_micros();
        Message::text(
            json!({"type": "send", "room": room, "client_id": format!("{index}-{n}"), "body": format!("{micros} message {n} from client {index}")})
                .to_string(),
        )
    };
    socket.send(send(0)).await?;
    while acks.len() < messages || deliveries.len() < expected {
        let frame = next_frame(&mut socket).await?;
        match frame["type"].as_str() {
            Some("ack") => {
                acks.push(sent_at.elapsed());
                sent += 1;
                if sent < messages {
                    sent_at = Instant::now();
                    socket.send(send(sent)).await?;
                }
            }
            Some("message") => {
                let body = frame["message"]["body"].as_str().unwrap_or_default();
                let micros: u64 = body
                    .split(' ')
                    .next()
                    .and_then(|m| m.parse().ok())
                    .unwrap_or_default();
                deliveries.push(
                    start
                        .elapsed()
                        .saturating_sub(Duration::from_micros(micros)),
                );
            }
            Some("error") => anyhow::bail!("the server refused a frame: {frame}"),
            _ => {}
        }
    }
    let _ = socket.close(None).await;
    Ok((acks, deliveries))
}

fn percentiles(samples: &mut [Duration]) -> [Duration; 3] {
    samples.sort_unstable();
    let at = |p: f64| {
        if samples.is_empty() {
            return Duration::ZERO;
        }
        let i = ((samples.len() - 1) as f64 * p).round() as usize;
        samples[i]
    };
    [at(0.50), at(0.95), at(0.99)]
}
