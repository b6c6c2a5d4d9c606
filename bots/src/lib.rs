//! The chat command language shared by Telegram, Discord and the web chat.
//!
//! This crate turns what a sales rep types into data and data into replies; it
//! knows nothing of the database. Its parts:
//!
//! - [`catalog`]: every command's name, summary and usage, from which help and the
//!   platform command menus are derived;
//! - [`parse()`]: `/command` text → [`Command`], or a [`UsageError`] that is the reply;
//! - [`dates`]: natural dates and times in the user's timezone;
//! - [`intent`]: plain-language mentions → an [`Intent`] and a proposal of commands
//!   (never executed without the user's confirmation);
//! - [`crm`]: the [`Crm`] trait the root crate implements, with its plain input and
//!   output types;
//! - [`engine`]: runs a message against a `Crm` and answers with a [`Reply`];
//! - [`replies`]: the text of replies (lead cards, lists), plain text with minimal
//!   markdown that Telegram and Discord both render.
//!
//! Invariant: nothing here touches storage or the network; every effect goes
//! through the `Crm` trait.

pub mod catalog;
pub mod command;
pub mod crm;
pub mod dates;
pub mod engine;
pub mod intent;
pub mod lexer;
pub mod parse;
pub mod replies;

pub use catalog::{command_list, help_for, help_text, CommandName, CommandSpec, COMMANDS};
pub use command::{
    Command, DueWindow, FollowUpOutcome, LeadRef, NewCall, NewContact, NewFollowUp, NewLead,
    Priority, TaskStatusFilter, Tier,
};
pub use crm::{ChatActor, Crm, CrmError, Platform};
pub use engine::{Button, ButtonAction, Engine, Reply, Sender};
pub use intent::{detect_intent, Intent, Proposal};
pub use parse::{parse, ParseContext, UsageError};
