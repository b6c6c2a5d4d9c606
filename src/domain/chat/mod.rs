//! The chat hub's rules: rooms and who is in them, messages with their
//! per-room sequence numbers, mentions and the notifications they leave,
//! pins, shared files, reminders and presence.
//!
//! Every function takes the acting user and checks `chat.use` first; room
//! contents are visible to the room's members only (a non-member is told
//! the room does not exist). The socket and the REST API both call these.

pub mod files;
pub mod known_members;
pub mod mentions;
pub mod messages;
pub mod notification_settings;
pub mod notifications;
pub mod pins;
pub mod presence;
pub mod reminders;
pub mod rooms;
pub mod writer;
