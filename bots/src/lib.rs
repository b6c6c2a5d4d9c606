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
//!   (never executed without the user's confirmation), by local rules; a model's
//!   reading comes through [`Crm::read_intent`] and is proposed the same way;
//! - [`crm`]: the [`Crm`] trait the root crate implements, with its plain input and
//!   output types;
//! - [`engine`]: runs a message against a `Crm` and answers with a [`Reply`];
//! - [`replies`]: the text of replies (lead cards, lists), plain text with minimal
//!   markdown that Telegram and Discord both render.
//!
//! Invariant: nothing here touches storage or the network; every effect goes
//! through the `Crm` trait.
//!
//! ```
//! use bots::{parse, Command, ParseContext};
//!
//! let ctx = ParseContext {
//!     now: chrono::Utc::now(),
//!     timezone: chrono_tz::Europe::Berlin,
//!     bot_username: Some("EaCrmBot".into()),
//! };
//! let command = parse("/lead@EaCrmBot Acme Corp acme.com country=DE @maria", &ctx)?;
//! let Command::Lead(lead) = command else { panic!("not a lead") };
//! assert_eq!(lead.company, "Acme Corp");
//! assert_eq!(lead.website.as_deref(), Some("acme.com"));
//! assert_eq!(lead.owner.as_deref(), Some("maria"));
//!
//! let wrong = parse("/followup Acme 5 done", &ctx).unwrap_err();
//! assert_eq!(
//!     wrong.to_string(),
//!     "/followup: tier must be 1, 2 or 3\nUsage: /followup <lead> <tier 1-3> <outcome> [when] [notes]"
//! );
//! # Ok::<(), bots::UsageError>(())
//! ```

pub mod catalog;
pub mod command;
pub mod crm;
pub mod dates;
pub mod engine;
pub mod fuzzing;
pub mod intent;
pub mod lexer;
pub mod parse;
pub mod replies;

pub use catalog::{command_list, help_for, help_text, CommandName, CommandSpec, COMMANDS};
pub use command::{
    Command, DueWindow, FollowUpOutcome, LeadRef, NewCall, NewContact, NewFollowUp, NewLead,
    Priority, TaskStatusFilter, Tier,
};
pub use crm::{ChatActor, Crm, CrmError, Part, PartsOff, Platform};
pub use engine::{Button, ButtonAction, Engine, Reply, Sender};
pub use intent::{detect_intent, Intent, Proposal, ReadBy};
pub use parse::{parse, ParseContext, UsageError};
