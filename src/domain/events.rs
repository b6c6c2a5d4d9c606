//! The in-process event bus: domain functions publish what happened after
//! their transaction commits; the realtime hub, bot bridges and webhooks
//! subscribe. The database stays the source of truth: a subscriber that
//! falls behind resyncs from storage instead of relying on the bus.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast;

use super::actor::Actor;
use super::permissions::Permission;

/// Who may see an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "ids", rename_all = "snake_case")]
pub enum Audience {
    /// Every signed-in user.
    Everyone,
    /// These users only (by user id).
    Users(Vec<String>),
    /// Members of a chat room (by room id).
    Room(String),
}

/// Something that happened, e.g. `lead.created` with the lead as payload.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub topic: String,
    pub audience: Audience,
    pub payload: Value,
    /// Whose action it was, with the permissions of the credential used,
    /// when a subscriber acts on it in their name (the web chat's slash
    /// commands). Never sent to clients.
    #[serde(skip)]
    pub by: Option<Actor>,
}

impl Event {
    pub fn new(topic: &str, audience: Audience, payload: Value) -> Self {
        Event {
            topic: topic.to_string(),
            audience,
            payload,
            by: None,
        }
    }

    /// The same event, as caused by `actor`.
    pub fn by(mut self, actor: &Actor) -> Self {
        self.by = Some(actor.clone());
        self
    }
}

/// The permissions that let a credential receive events of `topic` live
/// (any one of them); empty when any signed-in credential may. The socket
/// applies it to each connection's credential, so an API key narrowed to
/// chat does not receive lead or task events addressed to its owner.
pub fn permissions_to_receive(topic: &str) -> &'static [Permission] {
    const LEADS: &[Permission] = &[Permission::LeadsReadAll, Permission::LeadsReadOwn];
    const TASKS: &[Permission] = &[Permission::TasksRead];
    const CHAT: &[Permission] = &[Permission::ChatUse];
    let family = topic.split('.').next().unwrap_or_default();
    match family {
        "lead" | "contact" | "follow_up" | "followup" | "call" | "import" => LEADS,
        "task" => TASKS,
        "message" | "notification" | "notifications" | "pins" | "room" => CHAT,
        _ => &[],
    }
}

/// Events kept for slow subscribers before they start missing some.
const CAPACITY: usize = 4096;

#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Arc<Event>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        EventBus {
            sender: broadcast::channel(CAPACITY).0,
        }
    }

    /// Publishes after commit; having no subscriber is not an error.
    pub fn publish(&self, event: Event) {
        let _ = self.sender.send(Arc::new(event));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.sender.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_receive_what_is_published_after_they_subscribed() {
        let bus = EventBus::new();
        bus.publish(Event::new("lost", Audience::Everyone, Value::Null));
        let mut rx = bus.subscribe();
        bus.publish(Event::new(
            "lead.created",
            Audience::Users(vec!["u1".into()]),
            serde_json::json!({"id": "l1"}),
        ));
        let got = rx.recv().await.unwrap();
        assert_eq!(got.topic, "lead.created");
        assert_eq!(got.payload["id"], "l1");
    }
}
