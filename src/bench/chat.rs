//! `ea-crm bench chat`: the realtime hub under a team's load, measured
//! from outside. The service runs in a process of its own (on the default
//! SurrealKV store unless told otherwise); this process signs in the users,
//! opens every WebSocket (`TCP_NODELAY` on), and offers messages at a fixed
//! total rate whatever the answers (open loop), spread over every
//! connection. Meanwhile it posts over REST and signs in at a steady rate.
//! The same load then runs against a bare broadcast in its own process (no
//! sign-in, no storage: sequence numbers in memory), REST posts included,
//! whose figures and the ratios come in the same table.
//!
//! Every message carries the time it was sent; a delivery's latency is the
//! time from the send to its arrival at one recipient. Deliveries per second
//! count arrivals within the steady window (after the warm-up). A delivery
//! is missing when a message was acknowledged and a connection of its room
//! never received it, even after the drain.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bench_ws_client::tungstenite::Message;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use super::server_process::{BenchStore, ServerProcess};
use super::SocketTarget;
use super::{login, Figure, Latency};

#[derive(Debug, Clone, clap::Args)]
pub struct ChatLoad {
    /// WebSocket connections in all.
    #[arg(long, default_value_t = 2_000)]
    pub clients: usize,
    /// People the connections belong to (connection i is user i mod users).
    #[arg(long, default_value_t = 100)]
    pub users: usize,
    /// Rooms; each user is in one (user i in room i mod rooms).
    #[arg(long, default_value_t = 20)]
    pub rooms: usize,
    /// Messages offered per second over all connections.
    #[arg(long, default_value_t = 250.0)]
    pub rate: f64,
    /// Length of the steady window that is measured.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Seconds of load before the window, not measured.
    #[arg(long, default_value_t = 5)]
    pub warmup: u64,
    /// REST posts per second (`POST /rooms/{id}/messages`) during the load.
    #[arg(long, default_value_t = 5.0)]
    pub posts: f64,
    /// Password sign-ins per second during the load.
    #[arg(long, default_value_t = 10.0)]
    pub logins: f64,
    /// The store the service runs on.
    #[arg(long, value_enum, default_value_t = BenchStore::Surrealkv)]
    pub store: BenchStore,
    /// Skip the bare-broadcast baseline.
    #[arg(long)]
    pub no_baseline: bool,
    /// The `ea-crm` binary to run as the server (default: this one), to
    /// measure another build under the same load.
    #[arg(long)]
    pub server: Option<std::path::PathBuf>,
}

impl ChatLoad {
    /// A few seconds of a small load, for tests.
    pub fn quick() -> ChatLoad {
        ChatLoad {
            clients: 16,
            users: 8,
            rooms: 4,
            rate: 40.0,
            seconds: 2,
            warmup: 1,
            posts: 2.0,
            logins: 2.0,
            store: BenchStore::Mem,
            no_baseline: false,
            server: None,
        }
    }

    fn room_of_client(&self, client: usize) -> usize {
        (client % self.users.max(1)) % self.rooms.max(1)
    }
}

/// How long everything acknowledged may take to arrive after the load.
const DRAIN: Duration = Duration::from_secs(10);

/// What one run measured.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub clients: usize,
    pub offered: usize,
    pub acked: usize,
    pub refused: usize,
    /// Arrivals within the steady window, per second.
    pub deliveries_per_second: f64,
    pub delivery: Option<Latency>,
    pub ack: Option<Latency>,
    pub missing: usize,
    /// Server memory the open, subscribed connections added, per connection.
    pub server_bytes_per_connection: Option<u64>,
    pub posts: Option<Latency>,
    pub logins: Option<Latency>,
    pub failed_probes: usize,
    /// Cores the server kept busy while the load ran (warm-up included).
    pub server_cores: Option<f64>,
    /// Cores this load generator kept busy meanwhile: on a machine shared
    /// with the server, what it takes is not the server's.
    pub generator_cores: Option<f64>,
}

pub async fn run(load: ChatLoad) -> anyhow::Result<Vec<Figure>> {
    anyhow::ensure!(
        load.clients >= load.users && load.users >= load.rooms && load.rooms >= 1,
        "need clients >= users >= rooms >= 1"
    );
    anyhow::ensure!(load.rate > 0.0, "the rate must be above zero");
    let hub = run_hub(load.clone()).await?;
    let mut figures = hub.figures("hub");
    if !load.no_baseline {
        let bare = run_bare(load).await?;
        figures.extend(bare.figures("bare"));
        figures.push(Figure::new(
            "chat",
            "hub/bare: deliveries",
            hub.deliveries_per_second / bare.deliveries_per_second.max(f64::EPSILON),
            "ratio",
        ));
        let p99_ratio = |h: &Option<Latency>, b: &Option<Latency>| {
            h.as_ref()
                .zip(b.as_ref())
                .map(|(h, b)| h.p99.as_secs_f64() / b.p99.as_secs_f64().max(1e-9))
        };
        if let Some(ratio) = p99_ratio(&hub.delivery, &bare.delivery) {
            figures.push(Figure::new(
                "chat",
                "hub/bare: delivery p99",
                ratio,
                "ratio",
            ));
        }
        if let Some(ratio) = p99_ratio(&hub.posts, &bare.posts) {
            figures.push(Figure::new(
                "chat",
                "hub/bare: REST post p99",
                ratio,
                "ratio",
            ));
        }
    }
    Ok(figures)
}

/// The service: signs in the users, makes the rooms, runs the load.
pub async fn run_hub(load: ChatLoad) -> anyhow::Result<LoadReport> {
    let password = crate::domain::tokens::generate_password();
    let server = ServerProcess::service(load.server.as_deref(), load.store, &password).await?;
    let outcome = async {
        let seeded = seed(&server, &password, &load).await?;
        let urls: Vec<SocketTarget> = (0..load.clients)
            .map(|c| SocketTarget {
                url: format!("ws://{}/api/v1/ws", server.addr),
                bearer: Some(seeded.tokens[c % load.users].clone()),
            })
            .collect();
        let probes = Probes {
            base: seeded.base.clone(),
            room: seeded.rooms[0].clone(),
            token: seeded.tokens.first().cloned(),
            login: Some(seeded.login.clone()),
        };
        drive(&load, &server, &urls, &seeded.rooms, &probes).await
    }
    .await;
    server.stop().await;
    outcome
}

/// The bare broadcast under the same load, REST posts included (it has no
/// sign-in, so no sign-ins are made).
pub async fn run_bare(load: ChatLoad) -> anyhow::Result<LoadReport> {
    let server = ServerProcess::bare().await?;
    let rooms: Vec<String> = (0..load.rooms).map(|r| format!("bench-{r}")).collect();
    let urls: Vec<SocketTarget> = (0..load.clients)
        .map(|_| SocketTarget {
            url: format!("ws://{}/ws", server.addr),
            bearer: None,
        })
        .collect();
    let probes = Probes {
        base: format!("http://{}", server.addr),
        room: rooms[0].clone(),
        token: None,
        login: None,
    };
    let outcome = drive(&load, &server, &urls, &rooms, &probes).await;
    server.stop().await;
    outcome
}

/// Where the REST posts and sign-ins made during the load go. The posts
/// land in the first room (counted as its deliveries); without a token they
/// are sent unauthenticated, without a login no sign-ins are made.
#[derive(Clone)]
struct Probes {
    base: String,
    room: String,
    token: Option<String>,
    login: Option<(String, String)>,
}

/// The users, signed in, and the rooms they are in.
#[derive(Clone)]
pub struct Seeded {
    base: String,
    tokens: Vec<String>,
    rooms: Vec<String>,
    /// (username, password) of a user kept for the sign-in probe.
    login: (String, String),
}

async fn seed(
    server: &ServerProcess,
    admin_password: &str,
    load: &ChatLoad,
) -> anyhow::Result<Seeded> {
    let base = format!("http://{}/api/v1", server.addr);
    let http = reqwest::Client::new();
    let admin = login(&http, &base, "admin", admin_password).await?;
    let password = crate::domain::tokens::generate_password();
    let mut ids = Vec::new();
    let mut tokens = Vec::new();
    for u in 0..=load.users {
        let username = format!("bench{u}");
        let created: serde_json::Value = http
            .post(format!("{base}/users"))
            .bearer_auth(&admin)
            .json(
                &json!({"username": username, "email": format!("{username}@bench.invalid"),
                "password": password, "role": "user"}),
            )
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        ids.push(created["id"].as_str().unwrap_or_default().to_string());
        if u < load.users {
            tokens.push(login(&http, &base, &username, &password).await?);
        }
    }
    let mut rooms = Vec::new();
    for r in 0..load.rooms {
        let members: Vec<&String> = (0..load.users)
            .filter(|u| u % load.rooms == r)
            .map(|u| &ids[u])
            .collect();
        let room: serde_json::Value = http
            .post(format!("{base}/rooms"))
            .bearer_auth(&admin)
            .json(&json!({"name": format!("bench-{r}"), "kind": "group", "members": members}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        rooms.push(room["id"].as_str().unwrap_or_default().to_string());
    }
    Ok(Seeded {
        base,
        tokens,
        rooms,
        login: (format!("bench{}", load.users), password),
    })
}

/// A server frame, read without copying what the bench does not use.
#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(default, borrow)]
    client_id: Option<&'a str>,
    #[serde(default)]
    seq: Option<i64>,
    #[serde(default, borrow)]
    message: Option<FrameMessage<'a>>,
}

#[derive(Deserialize)]
struct FrameMessage<'a> {
    seq: i64,
    #[serde(borrow)]
    body: std::borrow::Cow<'a, str>,
}

/// What the clients record, shared by their tasks.
#[derive(Default)]
struct Tally {
    /// (sent at, acked after) for each send made in the window.
    acks: Vec<Duration>,
    /// Latencies of arrivals within the window.
    deliveries: Vec<Duration>,
    /// Every (room, seq) acknowledged, by REST or socket.
    acked: HashSet<(usize, i64)>,
    /// Acks received over the sockets.
    socket_acks: usize,
    refused: usize,
}

struct Clock {
    start: Instant,
    window: (Duration, Duration),
}

impl Clock {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn in_window(&self, at: Duration) -> bool {
        at >= self.window.0 && at < self.window.1
    }
}

/// Connects every client, runs the load, drains, and gathers the figures.
async fn drive(
    load: &ChatLoad,
    server: &ServerProcess,
    urls: &[SocketTarget],
    rooms: &[String],
    probes: &Probes,
) -> anyhow::Result<LoadReport> {
    let rss_before = server.resident_bytes();
    let mut writers = Vec::with_capacity(load.clients);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let received: Vec<Arc<Mutex<HashSet<i64>>>> =
        (0..load.clients).map(|_| Arc::default()).collect();
    let sent_at: Arc<Mutex<HashMap<String, Duration>>> = Arc::default();
    let warmup = Duration::from_secs(load.warmup);
    let window_end = warmup + Duration::from_secs(load.seconds);
    let mut readers = Vec::new();
    // Connect in waves, so the connect storm is not what is measured.
    let mut connected = Vec::with_capacity(load.clients);
    for wave in (0..load.clients).collect::<Vec<_>>().chunks(50) {
        let opens = wave.iter().map(|&c| {
            let room = rooms[load.room_of_client(c)].clone();
            let target = urls[c].clone();
            async move { connect(&target, &room).await }
        });
        for socket in futures_util::future::join_all(opens).await {
            connected.push(socket?);
        }
    }
    let rss_after = server.resident_bytes();
    let cpu_started = (
        Instant::now(),
        server.cpu_seconds(),
        super::cpu_seconds(std::process::id()),
    );
    let clock = Arc::new(Clock {
        start: Instant::now(),
        window: (warmup, window_end),
    });
    for (c, socket) in connected.into_iter().enumerate() {
        let (mut sink, mut stream) = socket.split();
        let (to_send, mut outgoing) = mpsc::unbounded_channel::<String>();
        writers.push(to_send);
        tokio::spawn(async move {
            while let Some(text) = outgoing.recv().await {
                if sink.send(Message::text(text)).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let (tally, received, sent_at, clock) = (
            tally.clone(),
            received[c].clone(),
            sent_at.clone(),
            clock.clone(),
        );
        let room = load.room_of_client(c);
        readers.push(tokio::spawn(async move {
            while let Some(Ok(frame)) = stream.next().await {
                let Message::Text(text) = frame else {
                    continue;
                };
                let Ok(frame) = serde_json::from_str::<Frame>(&text) else {
                    continue;
                };
                let now = clock.now();
                match frame.kind {
                    "message" => {
                        let Some(message) = frame.message else {
                            continue;
                        };
                        received
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(message.seq);
                        if !clock.in_window(now) {
                            continue;
                        }
                        let micros: u64 = message
                            .body
                            .split(' ')
                            .next()
                            .and_then(|m| m.parse().ok())
                            .unwrap_or_default();
                        let latency = now.saturating_sub(Duration::from_micros(micros));
                        tally
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .deliveries
                            .push(latency);
                    }
                    "ack" => {
                        let sent = frame.client_id.and_then(|id| {
                            sent_at.lock().unwrap_or_else(|e| e.into_inner()).remove(id)
                        });
                        let mut tally = tally.lock().unwrap_or_else(|e| e.into_inner());
                        tally.socket_acks += 1;
                        if let Some(seq) = frame.seq {
                            tally.acked.insert((room, seq));
                        }
                        if let Some(sent) = sent.filter(|s| clock.in_window(*s)) {
                            tally.acks.push(now.saturating_sub(sent));
                        }
                    }
                    "error" => tally.lock().unwrap_or_else(|e| e.into_inner()).refused += 1,
                    _ => {}
                }
            }
        }));
    }

    // The load: one send every 1/rate seconds, connection after connection.
    let offered = Arc::new(AtomicUsize::new(0));
    let pace = {
        let (clock, writers, sent_at, offered) = (
            clock.clone(),
            writers.clone(),
            sent_at.clone(),
            offered.clone(),
        );
        let rooms = rooms.to_vec();
        let load = load.clone();
        async move {
            let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / load.rate));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut k = 0usize;
            loop {
                ticks.tick().await;
                let now = clock.now();
                if now >= window_end {
                    break;
                }
                let c = k % load.clients;
                let id = format!("{c}-{k}");
                sent_at
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(id.clone(), now);
                // Keyed like the web client's sends, so the bench pays what
                // a real send costs.
                let frame = json!({"type": "send", "room": rooms[load.room_of_client(c)], "client_id": id,
                    "idempotency_key": id,
                    "body": format!("{} message {k} from connection {c}", now.as_micros())});
                let _ = writers[c].send(frame.to_string());
                offered.fetch_add(1, Ordering::Relaxed);
                k += 1;
            }
        }
    };
    // The REST posts and sign-ins stand for clients outside the load
    // generator: they run on a runtime of their own, so what they measure
    // is the server, not the queue of the simulated sockets' tasks.
    let probes =
        {
            let (load, probes, clock, tally) =
                (load.clone(), probes.clone(), clock.clone(), tally.clone());
            tokio::task::spawn_blocking(move || match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(probe(&load, &probes, &clock, &tally)),
                Err(_) => (None, None, 0),
            })
        };
    let ((), probed) = tokio::join!(pace, probes);
    let wall = cpu_started.0.elapsed();
    let server_cores = super::cores_used(cpu_started.1, server.cpu_seconds(), wall);
    let generator_cores =
        super::cores_used(cpu_started.2, super::cpu_seconds(std::process::id()), wall);
    let (posts, logins, failed_probes) = probed.unwrap_or((None, None, 0));

    // Drain: wait until every acknowledged message reached its room.
    let room_clients: Vec<Vec<usize>> = (0..load.rooms)
        .map(|r| {
            (0..load.clients)
                .filter(|c| load.room_of_client(*c) == r)
                .collect()
        })
        .collect();
    let missing = || {
        let acked: Vec<(usize, i64)> = tally
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .acked
            .iter()
            .copied()
            .collect();
        let sets: Vec<HashSet<i64>> = received
            .iter()
            .map(|r| r.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .collect();
        acked
            .iter()
            .map(|(room, seq)| {
                room_clients[*room]
                    .iter()
                    .filter(|c| !sets[**c].contains(seq))
                    .count()
            })
            .sum::<usize>()
    };
    let drained_by = Instant::now() + DRAIN;
    let offered = offered.load(Ordering::Relaxed);
    loop {
        let answered = {
            let t = tally.lock().unwrap_or_else(|e| e.into_inner());
            t.socket_acks + t.refused
        };
        if (answered >= offered && missing() == 0) || Instant::now() >= drained_by {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let missing = missing();
    drop(writers);
    for reader in readers {
        reader.abort();
    }
    let mut tally = std::mem::take(&mut *tally.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(LoadReport {
        clients: load.clients,
        offered,
        acked: tally.socket_acks,
        refused: tally.refused,
        deliveries_per_second: tally.deliveries.len() as f64 / load.seconds.max(1) as f64,
        delivery: Some(Latency::of(&mut tally.deliveries)),
        ack: Some(Latency::of(&mut tally.acks)),
        missing,
        server_bytes_per_connection: match (rss_before, rss_after) {
            (Some(before), Some(after)) => Some(after.saturating_sub(before) / load.clients as u64),
            _ => None,
        },
        posts,
        logins,
        failed_probes,
        server_cores,
        generator_cores,
    })
}

type Socket =
    bench_ws_client::WebSocketStream<bench_ws_client::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a socket with `TCP_NODELAY` and follows `room`.
async fn connect(target: &SocketTarget, room: &str) -> anyhow::Result<Socket> {
    let (mut socket, _) =
        bench_ws_client::connect_async_with_config(target.request()?, None, true).await?;
    socket
        .send(Message::text(
            json!({"type": "subscribe", "room": room}).to_string(),
        ))
        .await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(60), socket.next()).await? {
            Some(Ok(Message::Text(text))) => {
                let frame: serde_json::Value = serde_json::from_str(&text)?;
                match frame["type"].as_str() {
                    Some("subscribed") => return Ok(socket),
                    Some("error") => anyhow::bail!("subscribe refused: {text}"),
                    _ => {}
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => anyhow::bail!("the socket closed before it was subscribed"),
        }
    }
    anyhow::bail!("no answer to subscribe")
}

/// REST posts and sign-ins at their rates while the load runs; their
/// latencies within the window.
async fn probe(
    load: &ChatLoad,
    probes: &Probes,
    clock: &Clock,
    tally: &Mutex<Tally>,
) -> (Option<Latency>, Option<Latency>, usize) {
    let http = reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .unwrap_or_default();
    let failed = AtomicUsize::new(0);
    let every = |rate: f64| Duration::from_secs_f64(1.0 / rate.max(0.001));
    let posts = async {
        let mut samples = Vec::new();
        if load.posts <= 0.0 {
            return samples;
        }
        let mut ticks = tokio::time::interval(every(load.posts));
        let mut i = 0;
        while clock.now() < clock.window.1 {
            ticks.tick().await;
            let sent = clock.now();
            let body = json!({"body": format!("{} rest post {i}", sent.as_micros()),
                "idempotency_key": format!("rest-{i}")});
            i += 1;
            let mut request = http
                .post(format!("{}/rooms/{}/messages", probes.base, probes.room))
                .json(&body);
            if let Some(token) = &probes.token {
                request = request.bearer_auth(token);
            }
            let answer = request.send().await;
            let took = clock.now().saturating_sub(sent);
            match answer {
                Ok(r) if r.status().is_success() => {
                    let value: serde_json::Value = r.json().await.unwrap_or_default();
                    if let Some(seq) = value["message"]["seq"].as_i64() {
                        tally
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .acked
                            .insert((0, seq));
                    }
                    if clock.in_window(sent) {
                        samples.push(took);
                    }
                }
                _ => {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        samples
    };
    let logins = async {
        let mut samples = Vec::new();
        let Some((user, password)) = probes.login.clone().filter(|_| load.logins > 0.0) else {
            return samples;
        };
        let mut ticks = tokio::time::interval(every(load.logins));
        let mut running = tokio::task::JoinSet::new();
        while clock.now() < clock.window.1 {
            ticks.tick().await;
            let (http, base, user, password) = (
                http.clone(),
                probes.base.clone(),
                user.clone(),
                password.clone(),
            );
            let sent = clock.now();
            running.spawn(async move {
                let started = Instant::now();
                let ok = login(&http, &base, &user, &password).await.is_ok();
                (sent, started.elapsed(), ok)
            });
            while let Some(Ok(done)) = running.try_join_next() {
                record_login(clock, &mut samples, &failed, done);
            }
        }
        while let Some(Ok(done)) = running.join_next().await {
            record_login(clock, &mut samples, &failed, done);
        }
        samples
    };
    let (mut posts, mut logins) = tokio::join!(posts, logins);
    let latency = |s: &mut Vec<Duration>| (!s.is_empty()).then(|| Latency::of(s));
    (
        latency(&mut posts),
        latency(&mut logins),
        failed.load(Ordering::Relaxed),
    )
}

/// One sign-in: when it started, how long it took, whether it worked.
fn record_login(
    clock: &Clock,
    samples: &mut Vec<Duration>,
    failed: &AtomicUsize,
    (sent, took, ok): (Duration, Duration, bool),
) {
    if !ok {
        failed.fetch_add(1, Ordering::Relaxed);
    } else if clock.in_window(sent) {
        samples.push(took);
    }
}

impl LoadReport {
    pub fn figures(&self, who: &str) -> Vec<Figure> {
        let mut out = vec![
            Figure::new(
                "chat",
                format!("{who}: connections"),
                self.clients as f64,
                "connections",
            ),
            Figure::new(
                "chat",
                format!("{who}: sends offered"),
                self.offered as f64,
                "messages",
            ),
            Figure::new(
                "chat",
                format!("{who}: sends acked"),
                self.acked as f64,
                "messages",
            ),
            Figure::new(
                "chat",
                format!("{who}: sends refused"),
                self.refused as f64,
                "messages",
            ),
            Figure::new(
                "chat",
                format!("{who}: deliveries"),
                self.deliveries_per_second,
                "msg/s",
            ),
            Figure::new(
                "chat",
                format!("{who}: deliveries missing"),
                self.missing as f64,
                "deliveries",
            ),
        ];
        let mut latency = |name: &str, l: &Option<Latency>| {
            if let Some(l) = l {
                out.push(Figure::millis("chat", format!("{who}: {name} p50"), l.p50));
                out.push(Figure::millis("chat", format!("{who}: {name} p99"), l.p99));
                out.push(Figure::millis("chat", format!("{who}: {name} max"), l.max));
            }
        };
        latency("delivery", &self.delivery);
        latency("ack", &self.ack);
        latency("REST post", &self.posts);
        latency("login", &self.logins);
        if let Some(bytes) = self.server_bytes_per_connection {
            out.push(Figure::new(
                "chat",
                format!("{who}: server RSS per connection"),
                bytes as f64 / 1024.0,
                "KiB",
            ));
        }
        for (whose, cores) in [
            ("server", self.server_cores),
            ("load generator", self.generator_cores),
        ] {
            if let Some(cores) = cores {
                out.push(Figure::new(
                    "chat",
                    format!("{who}: {whose} CPU"),
                    cores,
                    "cores",
                ));
            }
        }
        if self.failed_probes > 0 {
            out.push(Figure::new(
                "chat",
                format!("{who}: probes failed"),
                self.failed_probes as f64,
                "requests",
            ));
        }
        out
    }
}
