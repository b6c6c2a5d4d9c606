//! The realtime hub: which socket connections are open, which rooms each
//! follows, and fan-out of messages, domain events, presence and typing to
//! them.
//!
//! The database stays the source of truth. The hub only says "room R has
//! reached seq S" (with the message when it has it at hand); each
//! connection keeps a cursor per room and reads anything it missed from
//! the database, so a dropped frame, a slow wake-up or a message stored by
//! another instance costs a query, never a gap or a duplicate.

pub mod connection;
pub mod frames;
pub mod hub;
pub mod live;
pub mod presence_sync;

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;

use crate::domain::events::EventBus;
use hub::Hub;

/// Sends gathered presence changes every `every`.
pub async fn flush_presence(hub: Arc<Hub>, every: std::time::Duration) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        hub.flush_presence();
    }
}

/// Forwards the domain event bus into the hub until the bus closes.
pub async fn pump_events(events: EventBus, hub: Arc<Hub>) {
    let mut receiver = events.subscribe();
    loop {
        match receiver.recv().await {
            Ok(event) => hub.dispatch(&event),
            // Chat messages are recovered from the database by the cursor of
            // each connection; other events in the gap are lost to live
            // clients (they stay in the database where they are stored).
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "the realtime hub fell behind the event bus")
            }
            Err(RecvError::Closed) => break,
        }
    }
}
