//! The hub under what real networks do to it: clients that vanish without
//! a close frame and come back, a client that stops reading, a socket that
//! pipelines its sends. Each test holds the server to what
//! `docs/realtime-protocol.md` promises a client that resumes from its last
//! sequence numbers and resends under its idempotency keys: every message
//! of its rooms exactly once, in order, and every message stored once.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::time::Duration;

use futures_util::future::join_all;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::chat::{group, say};
use crate::helpers::TestApp;
use crate::ws::{Client, Read};

/// Long enough for a frame under load in a debug build, short enough that a
/// stuck test says so well before the harness would.
const PATIENCE: Duration = Duration::from_secs(15);

fn seq_of(message: &Value) -> i64 {
    message["seq"].as_i64().expect("a message has a seq")
}

fn seqs(messages: &[Value]) -> Vec<i64> {
    messages.iter().map(seq_of).collect()
}

fn ids(messages: &[Value]) -> Vec<&str> {
    messages
        .iter()
        .map(|m| m["id"].as_str().expect("a message has an id"))
        .collect()
}

/// A `send` frame the way a careful client builds it: its own id to match
/// the ack, and a key that makes a resend land once.
#[derive(Debug, Clone)]
struct Outgoing {
    room: String,
    body: String,
    client_id: String,
    key: String,
}

impl Outgoing {
    fn frame(&self) -> Value {
        json!({"type": "send", "room": self.room, "body": self.body,
               "client_id": self.client_id, "idempotency_key": self.key})
    }
}

/// One person in the chaos test: who they are, the rooms they are in and
/// what they will say.
struct Chatter {
    name: String,
    token: String,
    rooms: Vec<String>,
    outbox: Vec<Outgoing>,
}

/// What one chatter's client saw over all its connections.
#[derive(Default)]
struct Seen {
    /// Per room, every message delivered, in the order it arrived.
    messages: HashMap<String, Vec<Value>>,
    /// Per `client_id`, every ack (a resend may be acked more than once).
    acks: HashMap<String, Vec<Value>>,
    connections: usize,
    /// Connections the server ended, with its close code.
    closed_by_server: Vec<Option<u16>>,
    /// Sends repeated on a new connection because no ack had come.
    resent: usize,
}

impl Seen {
    /// The highest seq shown in `room`: where a resume starts.
    fn last_seq(&self, room: &str) -> i64 {
        self.messages
            .get(room)
            .and_then(|m| m.iter().map(seq_of).max())
            .unwrap_or(0)
    }

    fn record(&mut self, who: &str, frame: Value) {
        match frame["type"].as_str() {
            Some("message") => {
                let room = frame["room"].as_str().unwrap().to_string();
                self.messages
                    .entry(room)
                    .or_default()
                    .push(frame["message"].clone());
            }
            Some("ack") => {
                let client_id = frame["client_id"].as_str().unwrap().to_string();
                self.acks.entry(client_id).or_default().push(frame);
            }
            Some("error") => panic!("{who} was refused: {frame}"),
            _ => {}
        }
    }
}

/// How long a connection lives before the chatter's network drops it.
const DROP_AFTER_MS: Range<u64> = 1_000..3_000;
/// Pause between one burst of sends and the next: a busy team, kept below
/// what a debug build on two shared cores stores, so that acks can come
/// back within a connection's life.
const BURST_EVERY_MS: Range<u64> = 800..2_000;
/// Chance that the network drops right after a burst, before its acks.
const DROP_MID_FLIGHT: f64 = 0.25;
/// Drops per chatter; then its connection stays, so the test ends even when
/// the server is slower than the drops are frequent.
const DROPS: usize = 6;

/// Plays one chatter: connects, resumes each room from the last seq it
/// showed, resends what was never acked, sends its messages in pipelined
/// bursts, and loses its connection abruptly every so often (`DROPS`
/// times), until it has every ack and every message of its rooms (or
/// `give_up` passes).
async fn chat_through_drops(
    app: &TestApp,
    chatter: &Chatter,
    expected: &HashMap<String, usize>,
    seed: u64,
    give_up: Instant,
) -> Seen {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut seen = Seen::default();
    // `outbox[..sent]` went out at least once.
    let mut sent = 0;
    let done = |seen: &Seen| {
        chatter
            .outbox
            .iter()
            .all(|o| seen.acks.contains_key(&o.client_id))
            && chatter
                .rooms
                .iter()
                .all(|r| seen.last_seq(r) >= expected[r] as i64)
    };
    while !done(&seen) && Instant::now() < give_up {
        seen.connections += 1;
        let mut client = Client::connect(app, &chatter.token).await;
        for room in &chatter.rooms {
            client.subscribe(room, Some(seen.last_seq(room))).await;
        }
        for out in &chatter.outbox[..sent] {
            if !seen.acks.contains_key(&out.client_id) {
                seen.resent += 1;
                client.send(out.frame()).await;
            }
        }
        let chaos = seen.connections <= DROPS;
        let drop_at = match chaos {
            true => Instant::now() + Duration::from_millis(rng.gen_range(DROP_AFTER_MS)),
            false => give_up,
        };
        let mut next_burst = Instant::now() + Duration::from_millis(rng.gen_range(BURST_EVERY_MS));
        while !done(&seen) {
            let wake = match sent < chatter.outbox.len() {
                true => drop_at.min(next_burst),
                false => drop_at,
            };
            match client.next_before(wake.min(give_up)).await {
                Read::Frame(frame) => seen.record(&chatter.name, frame),
                Read::Closed(code) => {
                    seen.closed_by_server.push(code);
                    break;
                }
                Read::Quiet if Instant::now() >= drop_at || Instant::now() >= give_up => break,
                Read::Quiet => {
                    let burst = rng.gen_range(1..=3).min(chatter.outbox.len() - sent);
                    for out in &chatter.outbox[sent..sent + burst] {
                        client.send(out.frame()).await;
                    }
                    sent += burst;
                    next_burst =
                        Instant::now() + Duration::from_millis(rng.gen_range(BURST_EVERY_MS));
                    if chaos && rng.gen_bool(DROP_MID_FLIGHT) {
                        break;
                    }
                }
            }
        }
        // Gone without a close frame: the TCP stream is simply dropped.
        drop(client);
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_clients_that_drop_abruptly_get_every_message_exactly_once_in_order() {
    const PEOPLE: usize = 24;
    const ROOMS: usize = 4;
    const MESSAGES_EACH: usize = 15;
    // Everyone connects from 127.0.0.1; a team behind one address would too.
    let app = TestApp::spawn_with(|c| c.rate_limit_per_ip = 100_000).await;
    let admin = app.admin_token().await;
    let seed = std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    eprintln!("chaos seed {seed} (CHAOS_SEED={seed} replays the same drops and bursts)");

    let names: Vec<String> = (0..PEOPLE).map(|i| format!("chaos{i}")).collect();
    // A few at a time: each costs two password hashes, and the service
    // refuses hashes queued past a bound (503 busy) rather than wait.
    let mut people = Vec::with_capacity(PEOPLE);
    for chunk in names.chunks(6) {
        people.extend(
            join_all(
                chunk
                    .iter()
                    .map(|name| app.user_with_role(&admin, name, "user")),
            )
            .await,
        );
    }
    // Each person is at home in one room; every sixth is also in the next.
    let rooms_of = |i: usize| match i % 6 {
        0 => vec![i % ROOMS, (i + 1) % ROOMS],
        _ => vec![i % ROOMS],
    };
    let mut rooms = Vec::new();
    for r in 0..ROOMS {
        let members: Vec<&str> = (0..PEOPLE)
            .filter(|&i| rooms_of(i).contains(&r))
            .map(|i| people[i].0.as_str())
            .collect();
        rooms.push(group(&app, &admin, &format!("chaos-room-{r}"), &members).await);
    }
    let chatters: Vec<Chatter> = people
        .iter()
        .enumerate()
        .map(|(i, (_, token))| {
            let name = format!("chaos{i}");
            let mine: Vec<String> = rooms_of(i).iter().map(|&r| rooms[r].clone()).collect();
            let outbox = (0..MESSAGES_EACH)
                .map(|k| Outgoing {
                    room: mine[k % mine.len()].clone(),
                    body: format!("{name} says #{k}"),
                    client_id: format!("{name}-{k}"),
                    key: uuid::Uuid::new_v4().to_string(),
                })
                .collect();
            Chatter {
                name,
                token: token.clone(),
                rooms: mine,
                outbox,
            }
        })
        .collect();
    let mut expected: HashMap<String, usize> = HashMap::new();
    for out in chatters.iter().flat_map(|c| &c.outbox) {
        *expected.entry(out.room.clone()).or_default() += 1;
    }

    let started = Instant::now();
    let give_up = started + Duration::from_secs(45);
    let seen: Vec<Seen> = tokio::time::timeout(
        Duration::from_secs(55),
        join_all(
            chatters
                .iter()
                .enumerate()
                .map(|(i, c)| chat_through_drops(&app, c, &expected, seed + i as u64, give_up)),
        ),
    )
    .await
    .expect("the chatters finish or give up in time");
    let connections: usize = seen.iter().map(|s| s.connections).sum();
    let resent: usize = seen.iter().map(|s| s.resent).sum();
    let duplicates = seen
        .iter()
        .flat_map(|s| s.acks.values().flatten())
        .filter(|a| a["duplicate"] == true)
        .count();
    let closed: Vec<Option<u16>> = seen
        .iter()
        .flat_map(|s| s.closed_by_server.clone())
        .collect();
    eprintln!(
        "chaos: {connections} connections for {PEOPLE} people in {:?}; {resent} sends resent, \
         {duplicates} acked as duplicates; closed by the server: {closed:?}",
        started.elapsed()
    );
    let unfinished: Vec<String> = chatters
        .iter()
        .zip(&seen)
        .filter_map(|(c, s)| {
            let unacked = c
                .outbox
                .iter()
                .filter(|o| !s.acks.contains_key(&o.client_id))
                .count();
            let behind: Vec<String> = c
                .rooms
                .iter()
                .filter(|r| s.last_seq(r) < expected[*r] as i64)
                .map(|r| format!("{r} at {} of {}", s.last_seq(r), expected[r]))
                .collect();
            (unacked > 0 || !behind.is_empty())
                .then(|| format!("{}: {unacked} sends unacked, behind in {behind:?}", c.name))
        })
        .collect();
    assert!(
        unfinished.is_empty(),
        "after 45 s some clients still lack acks or messages: {unfinished:?}"
    );
    assert!(
        connections > PEOPLE,
        "nobody lost a connection: the test did not test reconnecting"
    );

    // The room's history is the truth the clients are held to.
    let mut history = HashMap::new();
    for room in &rooms {
        let messages = app.room_history(&admin, room).await;
        assert_eq!(
            seqs(&messages),
            (1..=expected[room] as i64).collect::<Vec<_>>(),
            "room {room} is numbered 1..n with no gap, one message per send"
        );
        let mut bodies: Vec<&str> = messages
            .iter()
            .map(|m| m["body"].as_str().unwrap())
            .collect();
        let mut planned: Vec<&str> = chatters
            .iter()
            .flat_map(|c| &c.outbox)
            .filter(|o| &o.room == room)
            .map(|o| o.body.as_str())
            .collect();
        bodies.sort_unstable();
        planned.sort_unstable();
        assert_eq!(bodies, planned, "room {room} holds each message once");
        history.insert(room.clone(), messages);
    }
    let id_of_body: HashMap<&str, &str> = history
        .values()
        .flatten()
        .map(|m| (m["body"].as_str().unwrap(), m["id"].as_str().unwrap()))
        .collect();

    for (chatter, seen) in chatters.iter().zip(&seen) {
        for room in &chatter.rooms {
            let got = seen.messages.get(room).map(Vec::as_slice).unwrap_or(&[]);
            assert_eq!(
                seqs(got),
                seqs(&history[room]),
                "{} saw room {room} out of order, with a gap or twice",
                chatter.name
            );
            assert_eq!(
                ids(got),
                ids(&history[room]),
                "{} saw other messages in room {room} than it holds",
                chatter.name
            );
        }
        for out in &chatter.outbox {
            let acks = seen.acks.get(&out.client_id).map(Vec::as_slice);
            let acks = acks.unwrap_or_else(|| panic!("{} was never acked", out.client_id));
            for ack in acks {
                assert_eq!(
                    ack["message_id"].as_str(),
                    Some(id_of_body[out.body.as_str()]),
                    "an ack of {} names the message stored for it",
                    out.client_id
                );
            }
        }
    }

    let stored = app
        .ctx()
        .store
        .run(
            "SELECT VALUE message FROM send_key; SELECT VALUE record::id(id) FROM message;",
            json!({}),
        )
        .await
        .unwrap();
    let keyed: Vec<String> = stored.rows(0).unwrap();
    let messages: Vec<String> = stored.rows(1).unwrap();
    let total = PEOPLE * MESSAGES_EACH;
    assert_eq!(keyed.len(), total, "one stored key per idempotency key");
    assert_eq!(messages.len(), total, "one stored message per send");
    let keyed: HashSet<&str> = keyed.iter().map(String::as_str).collect();
    let messages: HashSet<&str> = messages.iter().map(String::as_str).collect();
    assert_eq!(keyed, messages, "each key names its own message");
}

/// Posts `count` messages of about 4,000 characters into `room`, a few at a
/// time: never more at once than a reading client's queue holds, so only a
/// client that stops reading falls behind.
async fn post_big_messages(app: &TestApp, token: &str, room: &str, from: usize, count: usize) {
    let filler = "x".repeat(3_900);
    let bodies: Vec<String> = (from..from + count)
        .map(|i| format!("big {i} {filler}"))
        .collect();
    for chunk in bodies.chunks(4) {
        join_all(chunk.iter().map(|body| say(app, token, room, body))).await;
    }
}

/// Reads message frames until `room` reaches `last_seq`, failing if the
/// socket is closed or goes quiet first.
async fn messages_up_to(client: &mut Client, room: &str, last_seq: i64) -> Vec<Value> {
    let mut got: Vec<Value> = Vec::new();
    while got.last().map_or(0, seq_of) < last_seq {
        match client.next_before(Instant::now() + PATIENCE).await {
            Read::Frame(f) if f["type"] == "message" && f["room"] == room => {
                got.push(f["message"].clone())
            }
            Read::Frame(_) => {}
            Read::Quiet => panic!("quiet after seq {:?}", got.last().map(seq_of)),
            Read::Closed(code) => panic!("closed ({code:?}) after {:?}", got.last().map(seq_of)),
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_closed_with_4008_and_can_resume() {
    let app = TestApp::spawn_with(|c| {
        c.ws_send_queue = 8;
        c.presence_flush_ms = 50;
        // One poster has to outrun a socket's buffers, far past a person's pace.
        c.rate_limit_per_token = 1_000_000;
        c.rate_limit_per_ip = 1_000_000;
    })
    .await;
    let admin = app.admin_token().await;
    let (bob, bob_token) = app.user_with_role(&admin, "bob", "user").await;
    let room = group(&app, &admin, "firehose", &[&bob]).await;
    let mut watcher = Client::connect(&app, &admin).await;
    let mut bob_ws = Client::connect(&app, &bob_token).await;
    bob_ws.subscribe(&room, Some(0)).await;

    // While he reads, Bob keeps up with this pace of posting and stays connected.
    let warm_up = 40;
    let (_, read) = tokio::join!(
        post_big_messages(&app, &admin, &room, 0, warm_up),
        messages_up_to(&mut bob_ws, &room, warm_up as i64),
    );
    let mut received = read;

    // Bob's client stops reading; his connection is seen going offline when
    // the server gives up on it. The watcher only ever hears presence.
    let bob_offline = |frame: &Value| {
        frame["type"] == "presence"
            && frame["changes"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|p| p["user"] == bob && p["status"] == "offline")
            })
    };
    let mut posted = warm_up;
    let dropped = 'posting: loop {
        assert!(
            posted < 6_000,
            "a client that read nothing for {} messages of 4,000 characters is still connected",
            posted - warm_up
        );
        // A few at a time, so Bob starts reading again soon after he is
        // dropped: the server tries his close frame for a bounded time
        // only, and a client that reads nothing for that long never gets it.
        post_big_messages(&app, &admin, &room, posted, 4).await;
        posted += 4;
        while let Read::Frame(frame) = watcher.next_before(Instant::now()).await {
            if bob_offline(&frame) {
                break 'posting posted;
            }
        }
    };
    eprintln!(
        "the server dropped the client after {} unread messages",
        dropped - warm_up
    );

    // Reading again, Bob gets what was already on its way, then the close.
    let close = loop {
        match bob_ws.next_before(Instant::now() + PATIENCE).await {
            Read::Frame(f) if f["type"] == "message" => received.push(f["message"].clone()),
            Read::Frame(_) => {}
            Read::Quiet => panic!("no close frame after {} messages", received.len()),
            Read::Closed(code) => break code,
        }
    };
    assert_eq!(close, Some(4008), "closed as too slow, told to resume");
    let before_resume = received.len();

    // More is said while he is away; he reconnects and resumes.
    post_big_messages(&app, &admin, &room, posted, 10).await;
    let total = posted + 10;
    let mut bob_ws = Client::connect(&app, &bob_token).await;
    let last_shown = received.last().map_or(0, seq_of);
    bob_ws.subscribe(&room, Some(last_shown)).await;
    received.extend(messages_up_to(&mut bob_ws, &room, total as i64).await);
    received.extend(
        bob_ws
            .collect_of("message", Duration::from_millis(300))
            .await
            .into_iter()
            .map(|f| f["message"].clone()),
    );
    eprintln!(
        "{before_resume} messages before the close, {} after resuming",
        received.len() - before_resume
    );
    let history = app.room_history(&admin, &room).await;
    assert_eq!(history.len(), total);
    assert_eq!(
        seqs(&received),
        (1..=total as i64).collect::<Vec<_>>(),
        "every message once, in order, across the close"
    );
    assert_eq!(ids(&received), ids(&history));
}

#[tokio::test]
async fn pipelined_sends_from_one_socket_are_stored_in_the_order_they_were_sent() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let room = group(&app, &admin, "pipeline", &[]).await;
    let mut ws = Client::connect(&app, &admin).await;
    ws.subscribe(&room, Some(0)).await;
    let sends = 50;
    for i in 0..sends {
        ws.send(
            json!({"type": "send", "room": room, "body": format!("step {i}"),
                       "client_id": format!("c{i}"), "idempotency_key": format!("k{i}")}),
        )
        .await;
    }
    let mut acks = Vec::new();
    while acks.len() < sends {
        acks.push(ws.next_of("ack").await);
    }
    let client_ids: Vec<&str> = acks
        .iter()
        .map(|a| a["client_id"].as_str().unwrap())
        .collect();
    let in_order: Vec<String> = (0..sends).map(|i| format!("c{i}")).collect();
    assert_eq!(client_ids, in_order, "acks come back in the order sent");
    let acked_seqs: Vec<i64> = acks.iter().map(|a| a["seq"].as_i64().unwrap()).collect();
    assert_eq!(acked_seqs, (1..=sends as i64).collect::<Vec<_>>());

    let delivered = messages_up_to(&mut ws, &room, sends as i64).await;
    let history = app.room_history(&admin, &room).await;
    let bodies: Vec<&str> = history
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    let said: Vec<String> = (0..sends).map(|i| format!("step {i}")).collect();
    assert_eq!(bodies, said, "stored in the order sent");
    assert_eq!(ids(&delivered), ids(&history), "delivered as stored");
}
