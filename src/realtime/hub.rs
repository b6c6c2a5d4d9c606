//! Who is connected and what they follow; fan-out with a bounded queue per
//! connection. A connection whose queue is full is dropped (and told to
//! reconnect and resume) instead of growing the server's memory.
//!
//! Followers are indexed by room and connections by user, so a message
//! costs a walk of its room's followers, not of every connection; its
//! frame is serialised once and the same bytes go to every follower.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::domain::chat::presence::{Presence, PresenceTracker, Status};
use crate::domain::chat::{messages, rooms};
use crate::domain::clock::Clock;
use crate::domain::events::{Audience, Event};

/// What the hub hands a connection.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// Room `room` has a message numbered `seq`; `frame` is its `message`
    /// frame when the hub has the message (from this instance, or carried
    /// by the wake-up), `None` when only woken: the connection then reads
    /// it from the database.
    RoomMessage {
        room: Arc<str>,
        seq: i64,
        frame: Option<Arc<str>>,
    },
    /// A frame about a room (an edit, a reaction, typing), sent only while
    /// the connection follows the room.
    RoomFrame { room: Arc<str>, frame: Arc<str> },
    /// A domain event's frame, for connections whose credential may
    /// receive its topic.
    Event { topic: Arc<str>, frame: Arc<str> },
    /// A frame ready to send as it is.
    Frame(Arc<str>),
}

struct Connection {
    user: Arc<str>,
    rooms: HashSet<Arc<str>>,
    sender: mpsc::Sender<Outbound>,
    overflowed: Arc<AtomicBool>,
}

#[derive(Default)]
struct HubState {
    /// Set at shutdown: no new connections, the open ones are told to
    /// reconnect (to another instance, or this one once it is back).
    closing: bool,
    next_id: u64,
    connections: HashMap<u64, Connection>,
    /// Connections by the room they follow.
    followers: HashMap<Arc<str>, HashSet<u64>>,
    /// Connections by user.
    by_user: HashMap<Arc<str>, HashSet<u64>>,
    /// The newest sequence number announced per followed room, so a
    /// wake-up for a message already announced (this instance's own,
    /// echoed by the live query) costs nothing.
    announced: HashMap<Arc<str>, i64>,
    /// Presence from this instance's own connections.
    presence: PresenceTracker,
    /// Presence other instances report (see `presence_sync`), by user and
    /// instance; a user is as present as their best connection anywhere.
    remote: HashMap<String, HashMap<String, Presence>>,
    /// Presence changes not yet sent out, by user: sent together by
    /// `flush_presence`, so a reconnect storm costs one frame per round,
    /// and a user who drops and comes back within a round is not
    /// announced at all.
    presence_changed: BTreeMap<String, Presence>,
    /// Users whose presence on this instance changed since other instances
    /// were last told.
    local_changed: BTreeMap<String, Presence>,
    /// When each (user, room) last had a typing indicator sent out.
    typing_sent: HashMap<(String, String), Instant>,
    /// Typing indicators sent out here since other instances were last
    /// told, as (room, user).
    local_typing: BTreeSet<(String, String)>,
}

/// A connection's end of the hub.
pub struct Registration {
    pub id: u64,
    pub receiver: mpsc::Receiver<Outbound>,
    /// Set when the hub dropped the connection because its queue was full.
    pub overflowed: Arc<AtomicBool>,
}

pub struct Hub {
    state: Mutex<HubState>,
    queue_capacity: usize,
    typing_every: Duration,
    clock: Arc<dyn Clock>,
}

impl Hub {
    pub fn new(queue_capacity: usize, typing_every: Duration, clock: Arc<dyn Clock>) -> Self {
        Hub {
            state: Mutex::new(HubState::default()),
            queue_capacity: queue_capacity.max(1),
            typing_every,
            clock,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn register(&self, user: &str) -> Registration {
        let (sender, receiver) = mpsc::channel(self.queue_capacity);
        let overflowed = Arc::new(AtomicBool::new(false));
        let mut state = self.lock();
        state.next_id += 1;
        let id = state.next_id;
        if state.closing {
            // Dropping the sender ends the connection at once.
            return Registration {
                id,
                receiver,
                overflowed,
            };
        }
        let user: Arc<str> = Arc::from(user);
        state.by_user.entry(user.clone()).or_default().insert(id);
        state.connections.insert(
            id,
            Connection {
                user: user.clone(),
                rooms: HashSet::new(),
                sender,
                overflowed: overflowed.clone(),
            },
        );
        if let Some(presence) = state.presence.connected(&user, self.clock.now()) {
            self.broadcast_presence(&mut state, &presence);
        }
        Registration {
            id,
            receiver,
            overflowed,
        }
    }

    /// Lets go of every connection at shutdown; each closes with "restart".
    pub fn close_all(&self) {
        let mut state = self.lock();
        state.closing = true;
        state.connections.clear();
        state.followers.clear();
        state.by_user.clear();
    }

    pub fn is_closing(&self) -> bool {
        self.lock().closing
    }

    /// Forgets a connection; harmless if the hub already dropped it.
    pub fn unregister(&self, id: u64) {
        let mut state = self.lock();
        self.remove(&mut state, id);
    }

    fn remove(&self, state: &mut HubState, id: u64) {
        let Some(connection) = state.connections.remove(&id) else {
            return;
        };
        for room in &connection.rooms {
            unfollow(state, room, id);
        }
        if let Some(ids) = state.by_user.get_mut(&connection.user) {
            ids.remove(&id);
            if ids.is_empty() {
                state.by_user.remove(&connection.user);
            }
        }
        if let Some(presence) = state
            .presence
            .disconnected(&connection.user, self.clock.now())
        {
            self.broadcast_presence(state, &presence);
        }
    }

    /// Starts delivering a room to a connection. The caller has checked
    /// that its user is a member.
    pub fn subscribe(&self, id: u64, room: &str) {
        let mut state = self.lock();
        let room: Arc<str> = match state.followers.get_key_value(room) {
            Some((shared, _)) => shared.clone(),
            None => Arc::from(room),
        };
        let Some(connection) = state.connections.get_mut(&id) else {
            return;
        };
        connection.rooms.insert(room.clone());
        state.followers.entry(room).or_default().insert(id);
    }

    /// Someone left a room or was removed: none of their connections
    /// follows it any more.
    pub fn stop_following(&self, room: &str, user: &str) {
        let mut state = self.lock();
        let ids: Vec<u64> = state
            .by_user
            .get(user)
            .map(|ids| ids.iter().copied().collect())
            .unwrap_or_default();
        for id in ids {
            let followed = state
                .connections
                .get_mut(&id)
                .is_some_and(|c| c.rooms.remove(room));
            if followed {
                unfollow(&mut state, room, id);
            }
        }
    }

    pub fn unsubscribe(&self, id: u64, room: &str) {
        let mut state = self.lock();
        let Some(connection) = state.connections.get_mut(&id) else {
            return;
        };
        if connection.rooms.remove(room) {
            unfollow(&mut state, room, id);
        }
    }

    /// Whether a wake-up for `seq` in `room` would tell anyone anything: the
    /// room is followed here and `seq` was not announced yet. Lets the live
    /// query's listener skip decoding the messages this instance stored.
    pub fn would_announce(&self, room: &str, seq: i64) -> bool {
        let state = self.lock();
        state.followers.contains_key(room) && state.announced.get(room).is_none_or(|&top| seq > top)
    }

    /// A room reached `seq`: every connection following it is told, with
    /// the message's frame when `message` is given.
    pub fn room_message(&self, room: &str, seq: i64, message: Option<&Value>) {
        let mut state = self.lock();
        let Some((room, _)) = state.followers.get_key_value(room) else {
            return;
        };
        let room = room.clone();
        let announced = state.announced.entry(room.clone()).or_insert(0);
        if seq <= *announced {
            return;
        }
        *announced = seq;
        let frame = message.map(|m| message_frame(&room, m));
        let outbound = Outbound::RoomMessage {
            room: room.clone(),
            seq,
            frame,
        };
        self.deliver_to_room(&mut state, &room, None, outbound);
    }

    /// Routes a domain event to the connections its audience allows.
    pub fn dispatch(&self, event: &Event) {
        if event.topic == rooms::MEMBER_REMOVED_TOPIC {
            if let (Some(room), Some(user)) = (
                event.payload["room"].as_str(),
                event.payload["user"].as_str(),
            ) {
                self.stop_following(room, user);
            }
        }
        if event.topic == messages::CREATED_TOPIC {
            if let (Audience::Room(room), Some(seq)) =
                (&event.audience, event.payload["seq"].as_i64())
            {
                self.room_message(room, seq, Some(&event.payload));
                return;
            }
        }
        let frame =
            frame_text(&json!({"type": "event", "topic": event.topic, "payload": event.payload}));
        let mut state = self.lock();
        match &event.audience {
            Audience::Everyone => {
                let ids: Vec<u64> = state.connections.keys().copied().collect();
                self.deliver(&mut state, ids, event_frame(event, frame));
            }
            Audience::Users(users) => {
                let ids: Vec<u64> = users
                    .iter()
                    .filter_map(|u| state.by_user.get(u.as_str()))
                    .flatten()
                    .copied()
                    .collect();
                self.deliver(&mut state, ids, event_frame(event, frame));
            }
            Audience::Room(room) => {
                let Some((room, _)) = state.followers.get_key_value(room.as_str()) else {
                    return;
                };
                let room = room.clone();
                let out = Outbound::RoomFrame {
                    room: room.clone(),
                    frame,
                };
                self.deliver_to_room(&mut state, &room, None, out);
            }
        }
    }

    /// Someone is typing in a room: told to the room's other followers at
    /// most once per `typing_every` per person, however fast they type.
    pub fn typing(&self, id: u64, room: &str) {
        let mut state = self.lock();
        let Some((user, room)) = state
            .connections
            .get(&id)
            .and_then(|c| c.rooms.get(room).map(|room| (c.user.clone(), room.clone())))
        else {
            return;
        };
        if self.announce_typing(&mut state, &room, &user) {
            state
                .local_typing
                .insert((room.to_string(), user.to_string()));
        }
    }

    /// Another instance reports someone typing in a room (see
    /// `presence_sync`): told to this instance's followers of the room.
    pub fn remote_typing(&self, room: &str, user: &str) {
        let mut state = self.lock();
        let Some((room, _)) = state.followers.get_key_value(room) else {
            return;
        };
        let room = room.clone();
        self.announce_typing(&mut state, &room, user);
    }

    /// The typing indicators sent out here since the last call, as
    /// (room, user), for the other instances.
    pub fn take_local_typing(&self) -> Vec<(String, String)> {
        std::mem::take(&mut self.lock().local_typing)
            .into_iter()
            .collect()
    }

    /// Sends a typing frame to the room's followers but the typist's own
    /// connections, unless one went out for them within `typing_every`;
    /// returns whether it went out.
    fn announce_typing(&self, state: &mut HubState, room: &Arc<str>, user: &str) -> bool {
        let key = (user.to_string(), room.to_string());
        let now = Instant::now();
        if state
            .typing_sent
            .get(&key)
            .is_some_and(|at| now.duration_since(*at) < self.typing_every)
        {
            return false;
        }
        let every = self.typing_every;
        state
            .typing_sent
            .retain(|_, at| now.duration_since(*at) < every);
        state.typing_sent.insert(key, now);
        let frame = frame_text(&json!({"type": "typing", "room": &**room, "user": user}));
        let out = Outbound::RoomFrame {
            room: room.clone(),
            frame,
        };
        self.deliver_to_room(state, room, Some(user), out);
        true
    }

    /// The user set themselves online or away.
    pub fn set_presence(&self, id: u64, status: Status) {
        let mut state = self.lock();
        let Some(user) = state.connections.get(&id).map(|c| c.user.clone()) else {
            return;
        };
        if let Some(presence) = state.presence.set(&user, status, self.clock.now()) {
            self.broadcast_presence(&mut state, &presence);
        }
    }

    /// Everyone this instance has seen or heard of from the others, for a
    /// client that just connected.
    pub fn presence_snapshot(&self) -> Vec<Presence> {
        let state = self.lock();
        let mut users: Vec<String> = state.presence.all().into_iter().map(|p| p.user).collect();
        users.extend(state.remote.keys().cloned());
        users.sort_unstable();
        users.dedup();
        let now = self.clock.now();
        users.iter().map(|u| combined(&state, u, now)).collect()
    }

    pub fn connection_count(&self) -> usize {
        self.lock().connections.len()
    }

    /// A user's presence on this instance changed: announce what it makes
    /// of them overall, and tell the other instances.
    fn broadcast_presence(&self, state: &mut HubState, presence: &Presence) {
        state
            .local_changed
            .insert(presence.user.clone(), presence.clone());
        announce_combined(state, &presence.user, self.clock.now());
    }

    /// What another instance reports of a user: `Some` while they have a
    /// connection there, `None` once they have none (or the instance is
    /// gone).
    pub fn remote_presence(&self, instance: &str, user: &str, presence: Option<Presence>) {
        let mut state = self.lock();
        let known = state.remote.entry(user.to_string()).or_default();
        let changed = match presence {
            Some(p) => known
                .insert(instance.to_string(), p.clone())
                .is_none_or(|old| old.status != p.status),
            None => known.remove(instance).is_some(),
        };
        if known.is_empty() {
            state.remote.remove(user);
        }
        if changed {
            announce_combined(&mut state, user, self.clock.now());
        }
    }

    /// Forgets what `instance` reported (it stopped or went silent).
    pub fn forget_instance(&self, instance: &str) {
        let mut state = self.lock();
        let users: Vec<String> = state
            .remote
            .iter()
            .filter(|(_, by_instance)| by_instance.contains_key(instance))
            .map(|(user, _)| user.clone())
            .collect();
        for user in users {
            if let Some(known) = state.remote.get_mut(&user) {
                known.remove(instance);
                if known.is_empty() {
                    state.remote.remove(&user);
                }
            }
            announce_combined(&mut state, &user, self.clock.now());
        }
    }

    /// This instance's presence changes since the last call, for the other
    /// instances.
    pub fn take_local_presence(&self) -> Vec<Presence> {
        std::mem::take(&mut self.lock().local_changed)
            .into_values()
            .collect()
    }

    /// Everyone this instance has a connection of, as it would tell other
    /// instances.
    pub fn local_presence(&self) -> Vec<Presence> {
        self.lock()
            .presence
            .all()
            .into_iter()
            .filter(|p| p.status != Status::Offline)
            .collect()
    }

    /// Sends the presence changes gathered since the last call as one
    /// frame to everyone connected.
    pub fn flush_presence(&self) {
        let mut state = self.lock();
        if state.presence_changed.is_empty() {
            return;
        }
        let changes: Vec<Presence> = std::mem::take(&mut state.presence_changed)
            .into_values()
            .collect();
        let out = Outbound::Frame(frame_text(&json!({"type": "presence", "changes": changes})));
        let ids: Vec<u64> = state.connections.keys().copied().collect();
        self.deliver(&mut state, ids, out);
    }

    /// Queues `outbound` for the room's followers (but `except`'s).
    fn deliver_to_room(
        &self,
        state: &mut HubState,
        room: &str,
        except: Option<&str>,
        outbound: Outbound,
    ) {
        let Some(followers) = state.followers.get(room) else {
            return;
        };
        let mut too_slow = Vec::new();
        for id in followers {
            let Some(connection) = state.connections.get(id) else {
                continue;
            };
            if except.is_some_and(|user| *connection.user == *user) {
                continue;
            }
            if !queue(connection, outbound.clone()) {
                too_slow.push(*id);
            }
        }
        self.drop_too_slow(state, too_slow);
    }

    /// Queues `outbound` for each of `ids` without waiting.
    fn deliver(&self, state: &mut HubState, ids: Vec<u64>, outbound: Outbound) {
        let mut too_slow = Vec::new();
        for id in ids {
            if let Some(connection) = state.connections.get(&id) {
                if !queue(connection, outbound.clone()) {
                    too_slow.push(id);
                }
            }
        }
        self.drop_too_slow(state, too_slow);
    }

    fn drop_too_slow(&self, state: &mut HubState, ids: Vec<u64>) {
        for id in ids {
            tracing::info!(
                connection = id,
                "dropping a websocket client that fell behind"
            );
            self.remove(state, id);
        }
    }
}

/// A user's presence over every instance: their best status anywhere,
/// last seen at the latest time anyone saw them.
fn combined(state: &HubState, user: &str, now: chrono::DateTime<chrono::Utc>) -> Presence {
    let rank = |s: Status| match s {
        Status::Online => 2,
        Status::Away => 1,
        Status::Offline => 0,
    };
    state
        .presence
        .presence(user)
        .into_iter()
        .chain(
            state
                .remote
                .get(user)
                .into_iter()
                .flat_map(|m| m.values().cloned()),
        )
        .reduce(|best, p| Presence {
            user: best.user.clone(),
            status: if rank(p.status) > rank(best.status) {
                p.status
            } else {
                best.status
            },
            last_seen: best.last_seen.max(p.last_seen),
        })
        // Known only from another instance, which has let go of them now.
        .unwrap_or(Presence {
            user: user.to_string(),
            status: Status::Offline,
            last_seen: now,
        })
}

fn announce_combined(state: &mut HubState, user: &str, now: chrono::DateTime<chrono::Utc>) {
    let presence = combined(state, user, now);
    state.presence_changed.insert(user.to_string(), presence);
}

/// Queues one frame; false when the connection's queue is full (it is
/// then marked to be closed as too slow).
fn queue(connection: &Connection, outbound: Outbound) -> bool {
    match connection.sender.try_send(outbound) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            connection.overflowed.store(true, Ordering::SeqCst);
            false
        }
        // The connection is closing; it unregisters itself.
        Err(mpsc::error::TrySendError::Closed(_)) => true,
    }
}

fn unfollow(state: &mut HubState, room: &str, id: u64) {
    if let Some(ids) = state.followers.get_mut(room) {
        ids.remove(&id);
        if ids.is_empty() {
            state.followers.remove(room);
            state.announced.remove(room);
        }
    }
}

/// A JSON frame as text, serialised once for every connection that gets it.
fn frame_text(value: &Value) -> Arc<str> {
    Arc::from(value.to_string())
}

fn event_frame(event: &Event, frame: Arc<str>) -> Outbound {
    Outbound::Event {
        topic: Arc::from(event.topic.as_str()),
        frame,
    }
}

/// The `message` frame of a room's message.
fn message_frame(room: &str, message: &Value) -> Arc<str> {
    frame_text(&json!({"type": "message", "room": room, "message": message}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::clock::SystemClock;

    fn hub(capacity: usize) -> Hub {
        Hub::new(capacity, Duration::from_secs(2), Arc::new(SystemClock))
    }

    #[test]
    fn a_connection_that_stops_reading_is_dropped_when_its_queue_is_full() {
        let hub = hub(3);
        let mut slow = hub.register("u1");
        hub.subscribe(slow.id, "r");
        // From here on it reads nothing.
        while slow.receiver.try_recv().is_ok() {}
        for seq in 1..=3 {
            hub.room_message("r", seq, None);
        }
        assert!(!slow.overflowed.load(Ordering::SeqCst));
        hub.room_message("r", 4, None);
        assert!(slow.overflowed.load(Ordering::SeqCst));
        assert_eq!(hub.connection_count(), 0);
    }

    #[test]
    fn typing_is_throttled_per_person_and_room() {
        let hub = hub(16);
        let typist = hub.register("u1");
        let mut reader = hub.register("u2");
        hub.subscribe(typist.id, "r");
        hub.subscribe(reader.id, "r");
        while reader.receiver.try_recv().is_ok() {}
        for _ in 0..10 {
            hub.typing(typist.id, "r");
        }
        let mut typing = 0;
        while let Ok(out) = reader.receiver.try_recv() {
            if matches!(out, Outbound::RoomFrame { ref frame, .. } if frame.contains("\"typing\""))
            {
                typing += 1;
            }
        }
        assert_eq!(typing, 1);
    }

    #[test]
    fn presence_changes_go_out_together_once_per_flush() {
        let hub = hub(16);
        let mut watcher = hub.register("watcher");
        for user in ["a", "b", "c"] {
            hub.register(user);
        }
        while watcher.receiver.try_recv().is_ok() {}
        hub.flush_presence();
        let Ok(Outbound::Frame(frame)) = watcher.receiver.try_recv() else {
            panic!("one presence frame");
        };
        let frame: Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(frame["changes"].as_array().unwrap().len(), 4);
        assert!(watcher.receiver.try_recv().is_err());
        hub.flush_presence();
        assert!(
            watcher.receiver.try_recv().is_err(),
            "nothing new, nothing sent"
        );
    }

    #[test]
    fn events_reach_only_their_audience() {
        let hub = hub(16);
        let mut ann = hub.register("ann");
        let mut bob = hub.register("bob");
        while ann.receiver.try_recv().is_ok() {}
        while bob.receiver.try_recv().is_ok() {}
        hub.dispatch(&Event::new(
            "lead.created",
            Audience::Users(vec!["ann".into()]),
            json!({"id": "l1"}),
        ));
        assert!(matches!(
            ann.receiver.try_recv(),
            Ok(Outbound::Event { ref topic, .. }) if &**topic == "lead.created"
        ));
        assert!(bob.receiver.try_recv().is_err());
    }
}
