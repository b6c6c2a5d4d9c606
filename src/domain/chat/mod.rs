//! The chat hub's rules: rooms and who is in them, messages with their
//! per-room sequence numbers, mentions and the notifications they leave,
//! pins, shared files, reminders and presence.
//!
//! Every function takes the acting user and checks first, through
//! `require_chat`, that it holds `chat.use` and that the chat is switched
//! on; room contents are visible to the room's members only (a non-member
//! is told the room does not exist). The socket and the REST API both call
//! these. Notifications are the exception: tasks leave them too, so they
//! stay readable while the chat is off.

pub mod files;
pub mod known_members;
pub mod mentions;
pub mod messages;
pub mod notification_settings;
pub mod notifications;
pub mod pins;
pub mod presence;
pub mod read_markers;
pub mod reminders;
pub mod rooms;
pub mod writer;

use super::actor::Actor;
use super::error::DomainResult;
use super::features::{self, Feature};
use super::permissions::Permission;
use super::Ctx;

/// The first line of every chat operation: the actor may use the chat, and
/// the chat is switched on (read from this instance's view, no query, so a
/// message send pays nothing for it).
pub(crate) fn require_chat(ctx: &Ctx, actor: &Actor) -> DomainResult<()> {
    actor.require(Permission::ChatUse)?;
    features::require(ctx, Feature::Chat)
}
