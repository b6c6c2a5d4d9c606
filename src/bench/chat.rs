//! `ea-crm bench chat`: the realtime hub under load, end to end. Starts the
//! real service in memory on a random port, signs in N users, spreads them
//! over R rooms and has each send M messages over its own WebSocket (each
//! send after the previous ack, or paced to a set rate), while every client
//! receives every message of its room. Reports throughput, ack latency,
//! delivery latency and memory per connection — and the same run against a
//! bare poem WebSocket broadcast with no authentication and no storage, so
//! the cost of the hub's guarantees shows as a ratio.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bench_ws_client::tungstenite::Message;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};

use super::resident_bytes;
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
    /// Rooms the clients are spread over (client i is in room i mod rooms).
    pub rooms: usize,
    pub messages: usize,
    /// Messages per second per client; 0 sends each after the previous ack.
    pub rate: f64,
}

impl ChatBench {
    fn room_of(&self, client: usize) -> usize {
        client % self.rooms.max(1)
    }

    /// How many clients share client `i`'s room.
    fn room_size(&self, i: usize) -> usize {
        (0..self.clients)
            .filter(|c| self.room_of(*c) == self.room_of(i))
            .count()
    }
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
    /// Resident memory the open, subscribed connections added, per
    /// connection (server and client side: both run in this process).
    pub memory_per_connection: Option<u64>,
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
        writeln!(
            f,
            "delivery:    p50 {:?}  p95 {:?}  p99 {:?}",
            self.delivery[0], self.delivery[1], self.delivery[2]
        )?;
        match self.memory_per_connection {
            Some(bytes) => write!(
                f,
                "memory:      {:.1} KiB per connection",
                bytes as f64 / 1024.0
            ),
            None => write!(f, "memory:      not measured on this platform"),
        }
    }
}

impl ChatReport {
    pub fn throughput(&self) -> f64 {
        self.delivered as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

/// How long the whole run may take before it is called failed.
const DEADLINE: Duration = Duration::from_secs(300);

pub async fn chat(config: Config, bench: ChatBench) -> anyhow::Result<ChatReport> {
    let hub = Hub::start(config, bench).await?;
    let report = hub.load(bench).await;
    hub.stop().await;
    report
}

/// A throwaway service with the bench's users signed in and their rooms
/// made, ready to take a chat load (and, for `bench login`, logins beside it).
pub struct Hub {
    pub addr: std::net::SocketAddr,
    /// (username, password) of each client, in client order.
    pub credentials: Vec<(String, String)>,
    tokens: Vec<String>,
    room_ids: Vec<String>,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

impl Hub {
    /// Runs the load: every client connects, subscribes and sends.
    pub async fn load(&self, bench: ChatBench) -> anyhow::Result<ChatReport> {
        let addr = self.addr;
        let url = |i: usize| format!("ws://{addr}/api/v1/ws?token={}", self.tokens[i]);
        drive(bench, url, &self.room_ids).await
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.server.await;
    }

    pub async fn start(mut config: Config, bench: ChatBench) -> anyhow::Result<Hub> {
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
        let server = tokio::spawn(async move {
            let _ = app
                .run_until(async move {
                    let _ = stopped.await;
                })
                .await;
        });

        let system = Actor::system();
        let mut tokens_and_ids = Vec::new();
        let mut credentials = Vec::new();
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
            let session =
                sessions::login(&ctx, &username, &password, &ClientInfo::default()).await?;
            tokens_and_ids.push((session.token, user.id));
            credentials.push((username, password));
        }
        let mut room_ids = Vec::new();
        for r in 0..bench.rooms.max(1).min(bench.clients) {
            let members: Vec<usize> = (0..bench.clients)
                .filter(|c| bench.room_of(*c) == r)
                .collect();
            let owner =
                sessions::authenticate_session(&ctx, &tokens_and_ids[members[0]].0, Channel::Api)
                    .await?
                    .actor;
            let room = rooms::create(
                &ctx,
                &owner,
                NewRoom {
                    name: format!("bench-{r}"),
                    kind: "group".into(),
                    members: members
                        .iter()
                        .skip(1)
                        .map(|c| tokens_and_ids[*c].1.clone())
                        .collect(),
                    ..NewRoom::default()
                },
            )
            .await?;
            room_ids.push(room.id);
        }
        drop(ctx);
        Ok(Hub {
            addr,
            credentials,
            tokens: tokens_and_ids.into_iter().map(|(t, _)| t).collect(),
            room_ids,
            stop,
            server,
        })
    }
}

/// The same load against a bare poem WebSocket broadcast: no sign-in, no
/// storage, no sequence numbers, no resume.
pub async fn baseline(bench: ChatBench) -> anyhow::Result<ChatReport> {
    use poem::listener::{Acceptor, Listener};
    let acceptor = poem::listener::TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await?;
    let addr = *acceptor.local_addr()[0]
        .as_socket_addr()
        .ok_or_else(|| anyhow::anyhow!("no address"))?;
    let rooms: Arc<
        std::sync::Mutex<std::collections::HashMap<String, tokio::sync::broadcast::Sender<String>>>,
    > = Arc::default();
    let endpoint = poem::endpoint::make(move |req: poem::Request| {
        let rooms = rooms.clone();
        async move {
            let ws = match <poem::web::websocket::WebSocket as poem::FromRequest>::from_request_without_body(&req).await {
                Ok(ws) => ws,
                Err(e) => return e.into_response(),
            };
            poem::IntoResponse::into_response(
                ws.on_upgrade(move |socket| bare_client(socket, rooms)),
            )
        }
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        poem::Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
            endpoint,
            async move {
                let _ = stopped.await;
            },
            Some(Duration::from_secs(5)),
        ),
    );
    let room_ids: Vec<String> = (0..bench.rooms.max(1).min(bench.clients))
        .map(|r| format!("bench-{r}"))
        .collect();
    let report = drive(bench, |_| format!("ws://{addr}/ws"), &room_ids).await;
    let _ = stop.send(());
    let _ = server.await;
    report
}

async fn bare_client(
    socket: poem::web::websocket::WebSocketStream,
    rooms: Arc<
        std::sync::Mutex<std::collections::HashMap<String, tokio::sync::broadcast::Sender<String>>>,
    >,
) {
    use poem::web::websocket::Message as PoemMessage;
    let (mut sink, mut stream) = socket.split();
    let (out_tx, mut out_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        while let Some(text) = out_rx.recv().await {
            if sink.send(PoemMessage::Text(text)).await.is_err() {
                break;
            }
        }
    });
    let mut room: Option<tokio::sync::broadcast::Sender<String>> = None;
    while let Some(Ok(PoemMessage::Text(text))) = stream.next().await {
        let Ok(frame) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        match frame["type"].as_str() {
            Some("subscribe") => {
                let name = frame["room"].as_str().unwrap_or_default().to_string();
                let sender = rooms
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(name)
                    .or_insert_with(|| tokio::sync::broadcast::channel(4096).0)
                    .clone();
                let mut rx = sender.subscribe();
                let out = out_tx.clone();
                tokio::spawn(async move {
                    while let Ok(text) = rx.recv().await {
                        if out.send(text).is_err() {
                            break;
                        }
                    }
                });
                room = Some(sender);
                let _ = out_tx.send(json!({"type": "subscribed"}).to_string());
            }
            Some("send") => {
                let _ = out_tx.send(json!({"type": "ack"}).to_string());
                if let Some(room) = &room {
                    let _ = room.send(
                        json!({"type": "message", "message": {"body": frame["body"]}}).to_string(),
                    );
                }
            }
            _ => {}
        }
    }
    writer.abort();
}

/// Connects every client, measures the memory the connections take, runs
/// the load and gathers the figures.
async fn drive(
    bench: ChatBench,
    url: impl Fn(usize) -> String,
    room_ids: &[String],
) -> anyhow::Result<ChatReport> {
    let start = Arc::new(Instant::now());
    let rss_before = resident_bytes();
    let mut sockets = Vec::new();
    for i in 0..bench.clients {
        let room = &room_ids[bench.room_of(i)];
        let (mut socket, _) = bench_ws_client::connect_async(url(i)).await?;
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
    let memory_per_connection = match (rss_before, resident_bytes()) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before) / bench.clients as u64),
        _ => None,
    };
    let began = Instant::now();
    let runs = sockets.into_iter().enumerate().map(|(i, socket)| {
        let room = room_ids[bench.room_of(i)].clone();
        let start = start.clone();
        let expected = bench.messages * bench.room_size(i);
        tokio::spawn(run_client(
            socket,
            i,
            room,
            bench.messages,
            expected,
            start,
            bench.rate,
        ))
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
    Ok(ChatReport {
        clients: bench.clients,
        sent: acks.len(),
        delivered: deliveries.len(),
        elapsed,
        ack: percentiles(&mut acks),
        delivery: percentiles(&mut deliveries),
        memory_per_connection,
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
    rate: f64,
) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    let pace = (rate > 0.0).then(|| Duration::from_secs_f64(1.0 / rate));
    let mut next_send = Instant::now();
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
                    if let Some(pace) = pace {
                        next_send += pace;
                        tokio::time::sleep_until(next_send.into()).await;
                    }
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

impl ChatReport {
    /// The report as table rows; `who` names the server (hub or bare).
    pub fn figures(&self, who: &str) -> Vec<super::Figure> {
        use super::Figure;
        let mut out = vec![
            Figure::new(
                "chat",
                format!("{who}: clients"),
                self.clients as f64,
                "connections",
            ),
            Figure::new(
                "chat",
                format!("{who}: sent"),
                self.sent as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON),
                "msg/s",
            ),
            Figure::new(
                "chat",
                format!("{who}: deliveries"),
                self.throughput(),
                "msg/s",
            ),
            Figure::millis("chat", format!("{who}: ack p50"), self.ack[0]),
            Figure::millis("chat", format!("{who}: ack p99"), self.ack[2]),
            Figure::millis("chat", format!("{who}: delivery p50"), self.delivery[0]),
            Figure::millis("chat", format!("{who}: delivery p99"), self.delivery[2]),
        ];
        if let Some(bytes) = self.memory_per_connection {
            out.push(Figure::new(
                "chat",
                format!("{who}: memory per connection"),
                bytes as f64 / 1024.0,
                "KiB",
            ));
        }
        out
    }
}

/// `ea-crm bench chat`: the hub and the bare broadcast under the same load,
/// with the ratios.
pub async fn run(config: Config, bench: ChatBench) -> anyhow::Result<Vec<super::Figure>> {
    let hub = chat(config, bench).await?;
    let bare = baseline(bench).await?;
    let mut out = hub.figures("hub");
    out.extend(bare.figures("bare"));
    out.push(super::Figure::new(
        "chat",
        "hub/bare: deliveries",
        hub.throughput() / bare.throughput().max(f64::EPSILON),
        "ratio",
    ));
    out.push(super::Figure::new(
        "chat",
        "hub/bare: delivery p99",
        hub.delivery[2].as_secs_f64() / bare.delivery[2].as_secs_f64().max(1e-9),
        "ratio",
    ));
    Ok(out)
}
