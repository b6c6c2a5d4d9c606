//! Wakes the hub when any instance sharing the database stores a message,
//! through a SurrealDB LIVE SELECT. Only a wake-up: each connection checks
//! the sequence number against its cursor and reads anything it missed
//! from the database, so a lost notification delays nothing past the next
//! message or reconnect.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use surrealdb::types::{Action, Value};

use super::hub::Hub;
use crate::domain::chat::messages::Message;
use crate::domain::chat::{read_markers, rooms};
use crate::domain::events::{Audience, Event};
use crate::domain::Ctx;
use crate::store::Store;

/// Pause before opening the live query again after it failed or ended.
const RETRY_AFTER: Duration = Duration::from_secs(1);

pub async fn listen(store: Store, hub: Arc<Hub>) {
    loop {
        // The whole message comes along, so a connection usually needs no
        // query of its own; the database read stays the fallback.
        match store
            .raw()
            .query("LIVE SELECT *, record::id(id) AS id FROM message")
            .await
        {
            Ok(mut response) => match response.stream::<Value>(0) {
                Ok(mut notifications) => {
                    while let Some(item) = notifications.next().await {
                        match item {
                            Ok(n) if n.action == Action::Create => {
                                wake(&hub, n.data.into_json_value())
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "live message notification failed")
                            }
                        }
                    }
                    tracing::debug!("the live message query ended; reopening");
                }
                Err(e) => tracing::warn!(error = %e, "cannot stream the live message query"),
            },
            Err(e) => tracing::warn!(error = %e, "cannot open the live message query"),
        }
        tokio::time::sleep(RETRY_AFTER).await;
    }
}

fn wake(hub: &Hub, data: serde_json::Value) {
    let (Some(room), Some(seq)) = (data["room"].as_str(), data["seq"].as_i64()) else {
        return;
    };
    // Most wake-ups are this instance's own messages, already announced.
    if !hub.would_announce(room, seq) {
        return;
    }
    // Sent as the same JSON the domain publishes; a row that does not read
    // as a message only wakes the connections, which then read it.
    let message = serde_json::from_value::<Message>(data.clone())
        .ok()
        .map(|m| serde_json::json!(m));
    hub.room_message(room, seq, message.as_ref());
}

/// Hears when a membership ends on any instance sharing the database:
/// this instance forgets the memberships it remembered and stops
/// delivering the room to that person's connections here.
pub async fn listen_memberships(ctx: Arc<Ctx>, hub: Arc<Hub>) {
    loop {
        match ctx
            .store
            .raw()
            .query("LIVE SELECT room, user FROM room_member")
            .await
        {
            Ok(mut response) => match response.stream::<Value>(0) {
                Ok(mut notifications) => {
                    while let Some(item) = notifications.next().await {
                        match item {
                            Ok(n) if n.action == Action::Delete => {
                                rooms::forget_membership(&ctx);
                                let data = n.data.into_json_value();
                                if let (Some(room), Some(user)) =
                                    (data["room"].as_str(), data["user"].as_str())
                                {
                                    hub.stop_following(room, user);
                                }
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "live membership notification failed")
                            }
                        }
                    }
                    tracing::debug!("the live membership query ended; reopening");
                }
                Err(e) => tracing::warn!(error = %e, "cannot stream the live membership query"),
            },
            Err(e) => tracing::warn!(error = %e, "cannot open the live membership query"),
        }
        tokio::time::sleep(RETRY_AFTER).await;
    }
}

/// Carries read markers to every instance: a user who reads a room on a
/// device connected to one instance has the badge fall on their devices
/// connected to the others (`room.read`). The instance that stored the
/// marker has already told its own connections; hearing it twice changes
/// nothing, as a marker only rises.
pub async fn listen_read_markers(hub: Arc<Hub>, store: Store) {
    loop {
        match store
            .raw()
            .query("LIVE SELECT room, user, seq FROM room_read")
            .await
        {
            Ok(mut response) => match response.stream::<Value>(0) {
                Ok(mut notifications) => {
                    while let Some(item) = notifications.next().await {
                        match item {
                            Ok(n) if n.action == Action::Create || n.action == Action::Update => {
                                let data = n.data.into_json_value();
                                if let (Some(room), Some(user), Some(seq)) = (
                                    data["room"].as_str(),
                                    data["user"].as_str(),
                                    data["seq"].as_i64(),
                                ) {
                                    hub.dispatch(&Event::new(
                                        read_markers::READ_TOPIC,
                                        Audience::Users(vec![user.to_string()]),
                                        serde_json::json!({"room": room, "seq": seq}),
                                    ));
                                }
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "live read marker notification failed")
                            }
                        }
                    }
                    tracing::debug!("the live read marker query ended; reopening");
                }
                Err(e) => tracing::warn!(error = %e, "cannot stream the live read marker query"),
            },
            Err(e) => tracing::warn!(error = %e, "cannot open the live read marker query"),
        }
        tokio::time::sleep(RETRY_AFTER).await;
    }
}
