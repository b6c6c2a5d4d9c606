//! Outbound webhooks for integrators.
//!
//! The promise: an event exists if and only if its change committed (it is
//! written by `record_event` in the change's own transaction), and it reaches
//! every active endpoint subscribed to its topic at least once, signed, off
//! the request path, however slow or dead other endpoints are.
//!
//! - `topics`: the catalogue endpoints subscribe to.
//! - `outbox`: `record_event`, and the fan-out into deliveries.
//! - `endpoints`: what admins manage through the API.
//! - `signing`: the `X-EA-Signature` HMAC.
//! - `addresses`: which receiver addresses may be reached.
//! - `delivery`: one HTTP attempt, retry rules, backoff.
//! - `dispatcher`: the background task that claims and delivers.

pub mod addresses;
pub mod delivery;
pub mod dispatcher;
pub mod endpoints;
pub mod outbox;
pub mod signing;
pub mod topics;

pub use dispatcher::{Dispatcher, DispatcherHandle, DispatcherSettings};
pub use outbox::record_event;
pub use topics::{TEST_TOPIC, WEBHOOK_TOPICS};

/// The version of the webhook payloads' format, sent in every body. Raise it
/// (and say so in the changelog) for a change that removes, renames or
/// retypes a field; adding one keeps it.
pub const PAYLOAD_VERSION: u32 = 1;

use super::Ctx;

/// Tells the dispatcher to look for work now instead of at its next poll.
/// Call after committing a transaction that recorded events; cheap, and
/// harmless when nothing is waiting.
pub fn wake(ctx: &Ctx) {
    ctx.webhook_wake.notify_one();
}
