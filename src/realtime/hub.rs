//! Who is connected and what they follow; fan-out with a bounded queue per
//! connection. A connection whose queue is full is dropped (and told to
//! reconnect and resume) instead of growing the server's memory.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::domain::chat::messages;
use crate::domain::chat::presence::{Presence, PresenceTracker, Status};
use crate::domain::clock::Clock;
use crate::domain::events::{Audience, Event};

/// What the hub hands a connection.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// Room `room` has a message numbered `seq`; `message` is its JSON when
    /// the hub has it (from this instance), `None` when only woken (from
    /// another instance): the connection then reads it from the database.
    RoomMessage {
        room: String,
        seq: i64,
        message: Option<Arc<Value>>,
    },
    /// A frame ready to send as it is.
    Frame(Arc<str>),
}

struct Connection {
    user: String,
    rooms: HashSet<String>,
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
    presence: PresenceTracker,
    /// Presence changes not yet sent out, by user: sent together by
    /// `flush_presence`, so a reconnect storm costs one frame per round,
    /// and a user who drops and comes back within a round is not
    /// announced at all.
    presence_changed: BTreeMap<String, Presence>,
    /// When each (user, room) last had a typing indicator sent out.
    typing_sent: HashMap<(String, String), Instant>,
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
        state.connections.insert(
            id,
            Connection {
                user: user.to_string(),
                rooms: HashSet::new(),
                sender,
                overflowed: overflowed.clone(),
            },
        );
        if let Some(presence) = state.presence.connected(user, self.clock.now()) {
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
        if let Some(connection) = state.connections.remove(&id) {
            if let Some(presence) = state
                .presence
                .disconnected(&connection.user, self.clock.now())
            {
                self.broadcast_presence(state, &presence);
            }
        }
    }

    pub fn subscribe(&self, id: u64, room: &str) {
        if let Some(c) = self.lock().connections.get_mut(&id) {
            c.rooms.insert(room.to_string());
        }
    }

    pub fn unsubscribe(&self, id: u64, room: &str) {
        if let Some(c) = self.lock().connections.get_mut(&id) {
            c.rooms.remove(room);
        }
    }

    /// A room reached `seq`: every connection following it is told.
    pub fn room_message(&self, room: &str, seq: i64, message: Option<Arc<Value>>) {
        let mut state = self.lock();
        let outbound = Outbound::RoomMessage {
            room: room.to_string(),
            seq,
            message,
        };
        self.deliver(&mut state, |c| c.rooms.contains(room), outbound);
    }

    /// Routes a domain event to the connections its audience allows.
    pub fn dispatch(&self, event: &Event) {
        if event.topic == messages::CREATED_TOPIC {
            if let (Audience::Room(room), Some(seq)) =
                (&event.audience, event.payload["seq"].as_i64())
            {
                self.room_message(room, seq, Some(Arc::new(event.payload.clone())));
                return;
            }
        }
        let frame = frame(json!({"type": "event", "topic": event.topic, "payload": event.payload}));
        let mut state = self.lock();
        match &event.audience {
            Audience::Everyone => self.deliver(&mut state, |_| true, frame),
            Audience::Users(ids) => self.deliver(&mut state, |c| ids.contains(&c.user), frame),
            Audience::Room(room) => self.deliver(&mut state, |c| c.rooms.contains(room), frame),
        }
    }

    /// Someone is typing in a room: told to the room's other followers at
    /// most once per `typing_every` per person, however fast they type.
    pub fn typing(&self, id: u64, room: &str) {
        let mut state = self.lock();
        let Some(user) = state
            .connections
            .get(&id)
            .filter(|c| c.rooms.contains(room))
            .map(|c| c.user.clone())
        else {
            return;
        };
        let key = (user.clone(), room.to_string());
        let now = Instant::now();
        if state
            .typing_sent
            .get(&key)
            .is_some_and(|at| now.duration_since(*at) < self.typing_every)
        {
            return;
        }
        let every = self.typing_every;
        state
            .typing_sent
            .retain(|_, at| now.duration_since(*at) < every);
        state.typing_sent.insert(key, now);
        let out = frame(json!({"type": "typing", "room": room, "user": user}));
        self.deliver(
            &mut state,
            |c| c.rooms.contains(room) && c.user != user,
            out,
        );
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

    /// Everyone this instance has seen, for a client that just connected.
    pub fn presence_snapshot(&self) -> Vec<Presence> {
        self.lock().presence.all()
    }

    pub fn connection_count(&self) -> usize {
        self.lock().connections.len()
    }

    fn broadcast_presence(&self, state: &mut HubState, presence: &Presence) {
        state
            .presence_changed
            .insert(presence.user.clone(), presence.clone());
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
        let out = frame(json!({"type": "presence", "changes": changes}));
        self.deliver(&mut state, |_| true, out);
    }

    /// Queues `outbound` for each matching connection without waiting; a
    /// connection with a full queue is dropped.
    fn deliver(
        &self,
        state: &mut HubState,
        matches: impl Fn(&Connection) -> bool,
        outbound: Outbound,
    ) {
        let mut too_slow = Vec::new();
        for (id, connection) in &state.connections {
            if !matches(connection) {
                continue;
            }
            match connection.sender.try_send(outbound.clone()) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    connection.overflowed.store(true, Ordering::SeqCst);
                    too_slow.push(*id);
                }
                // The connection is closing; it unregisters itself.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
        for id in too_slow {
            tracing::info!(
                connection = id,
                "dropping a websocket client that fell behind"
            );
            self.remove(state, id);
        }
    }
}

/// A JSON frame, serialised once for every connection that gets it.
pub fn frame(value: Value) -> Outbound {
    Outbound::Frame(Arc::from(value.to_string()))
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
            if matches!(out, Outbound::Frame(ref f) if f.contains("\"typing\"")) {
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
        assert!(ann.receiver.try_recv().is_ok());
        assert!(bob.receiver.try_recv().is_err());
    }
}
