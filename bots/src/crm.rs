//! The boundary to the CRM: the [`Crm`] trait the root crate implements, and the
//! plain types that cross it.
//!
//! Promises: every method takes the linked [`ChatActor`] (except linking itself),
//! and the CRM behind the trait checks permissions and existence, answering with a
//! [`CrmError`]. Leads are resolved once by [`Crm::resolve_lead`]; every other lead
//! method takes the resolved id, so ambiguity is asked about in one place.
//! The futures are `Send` so an adapter can run the engine on a multi-threaded
//! runtime.

use std::future::Future;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::command::{
    DueWindow, FollowUpOutcome, LeadRef, NewCall, NewContact, NewFollowUp, NewLead, Priority,
    TaskStatusFilter, Tier,
};
use crate::intent::Intent;
use crate::parse::ParseContext;

/// Where a message came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Platform {
    Telegram,
    Discord,
    Web,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Telegram => "telegram",
            Platform::Discord => "discord",
            Platform::Web => "web",
        }
    }
}

/// A part of the service an admin can switch off that changes what the bots
/// offer. The platforms' own switches (the Telegram bot, the Discord bot) are
/// the adapters' business: a switched-off bot never reaches the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    /// The chat hub; reminders are a chat feature.
    Chat,
    /// The model reading plain words (a mention, a direct message); while
    /// it is off the local rules read them, as they do without a model.
    Intent,
}

impl Part {
    /// What people call it, in a sentence.
    pub fn name(self) -> &'static str {
        match self {
            Part::Chat => "Chat",
            Part::Intent => "AI intent detection",
        }
    }
}

/// The parts switched off now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PartsOff {
    pub chat: bool,
    pub intent: bool,
}

impl PartsOff {
    pub fn contains(self, part: Part) -> bool {
        match part {
            Part::Chat => self.chat,
            Part::Intent => self.intent,
        }
    }
}

/// The CRM user a chat account is linked to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatActor {
    pub user_id: String,
    pub username: String,
    /// Dates the user types are read on this wall clock, and shown in it.
    pub timezone: Tz,
}

/// What the CRM answers when it will not or cannot do something.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CrmError {
    #[error("not allowed: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// More than one lead matches; the engine asks which.
    #[error("more than one lead matches")]
    Ambiguous(Vec<LeadSummary>),
    /// A new lead looks like these stored ones; nothing was created. The
    /// engine offers to open one or create the lead anyway.
    #[error("this lead may already exist")]
    Duplicate(Vec<LeadSummary>),
    /// The chat account is not linked (or no longer).
    #[error("this chat account is not linked")]
    Unlinked,
    /// A part the command needs is switched off; the text names it.
    #[error("{0} is switched off")]
    SwitchedOff(String),
    /// Something went wrong inside; the text is safe to show (no internals).
    #[error("{0}")]
    Other(String),
}

/// A lead in one line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadSummary {
    pub id: String,
    pub name: String,
    pub domain: Option<String>,
    pub status: String,
    pub owner: Option<String>,
}

/// A contact person at a lead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub id: String,
    pub name: String,
    pub position: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub linkedin: Option<String>,
}

/// Where one follow-up tier of a lead stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierState {
    pub tier: Tier,
    /// `None` when this tier has not been logged yet.
    pub outcome: Option<FollowUpOutcome>,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub notes: Option<String>,
}

/// Everything `/show` displays.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadCard {
    pub lead: LeadSummary,
    pub industry: Option<String>,
    pub country: Option<String>,
    pub state: Option<String>,
    pub tags: Vec<String>,
    pub source: Option<String>,
    pub contacts: Vec<Contact>,
    /// The three follow-up tiers, first to third.
    pub tiers: [TierState; 3],
    pub open_tasks: Vec<TaskSummary>,
    /// Latest notes first; the CRM decides how many.
    pub recent_notes: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskState {
    Open,
    Done,
}

/// A task in one line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSummary {
    pub id: String,
    pub title: String,
    pub assignee: Option<String>,
    pub due: Option<DateTime<Utc>>,
    pub priority: Priority,
    pub state: TaskState,
    pub lead_name: Option<String>,
}

/// Input for creating a task, with the lead already resolved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTask {
    pub title: String,
    /// Username without `@`; `None` means the actor.
    pub assignee: Option<String>,
    pub due: Option<DateTime<Utc>>,
    pub priority: Priority,
    pub lead_id: Option<String>,
}

/// Which tasks to list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskFilter {
    /// `None` means the actor's own tasks.
    pub assignee: Option<String>,
    pub status: TaskStatusFilter,
}

/// What `/due` lists: a follow-up or a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DueKind {
    FollowUp { tier: Tier },
    Task { priority: Priority },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueItem {
    pub kind: DueKind,
    pub title: String,
    pub lead_name: Option<String>,
    pub due: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reminder {
    pub id: String,
    pub at: DateTime<Utc>,
    pub text: String,
}

/// What the bots need from the CRM. Implemented by the root crate over the domain
/// services; permissions are checked there.
pub trait Crm: Send + Sync {
    /// Which parts are switched off now; `/help` leaves their commands out
    /// and the engine refuses them. Called once a message, so it should be
    /// cheap (no storage round trip).
    fn parts_off(&self) -> PartsOff;

    /// The model's reading of plain words (`text`, without the bot's own
    /// mention), read on `ctx`'s clock and in its timezone. `None` whenever
    /// the model gave no usable reading: none is configured, the actor may
    /// not use it, or it failed, timed out or answered outside the schema.
    /// The engine then reads the words with the local rules, so this never
    /// fails towards the user. The engine does not ask while
    /// [`Part::Intent`] is switched off. It may take as long as a model call.
    fn read_intent(
        &self,
        actor: &ChatActor,
        text: &str,
        ctx: &ParseContext,
    ) -> impl Future<Output = Option<Intent>> + Send;

    /// Links a chat account with a one-time code from the panel.
    fn link_account(
        &self,
        platform: Platform,
        platform_user_id: &str,
        code: &str,
    ) -> impl Future<Output = Result<ChatActor, CrmError>> + Send;

    /// One lead for a reference, or `NotFound` / `Ambiguous`.
    fn resolve_lead(
        &self,
        actor: &ChatActor,
        lead: &LeadRef,
    ) -> impl Future<Output = Result<LeadSummary, CrmError>> + Send;

    fn create_lead(
        &self,
        actor: &ChatActor,
        input: NewLead,
    ) -> impl Future<Output = Result<LeadSummary, CrmError>> + Send;

    fn find_leads(
        &self,
        actor: &ChatActor,
        query: &str,
    ) -> impl Future<Output = Result<Vec<LeadSummary>, CrmError>> + Send;

    fn lead_card(
        &self,
        actor: &ChatActor,
        lead_id: &str,
    ) -> impl Future<Output = Result<LeadCard, CrmError>> + Send;

    fn set_status(
        &self,
        actor: &ChatActor,
        lead_id: &str,
        status: &str,
    ) -> impl Future<Output = Result<LeadSummary, CrmError>> + Send;

    fn log_follow_up(
        &self,
        actor: &ChatActor,
        lead_id: &str,
        input: NewFollowUp,
    ) -> impl Future<Output = Result<TierState, CrmError>> + Send;

    fn add_contact(
        &self,
        actor: &ChatActor,
        lead_id: &str,
        input: NewContact,
    ) -> impl Future<Output = Result<Contact, CrmError>> + Send;

    fn add_note(
        &self,
        actor: &ChatActor,
        lead_id: &str,
        text: &str,
    ) -> impl Future<Output = Result<(), CrmError>> + Send;

    fn log_call(
        &self,
        actor: &ChatActor,
        lead_id: &str,
        input: NewCall,
    ) -> impl Future<Output = Result<(), CrmError>> + Send;

    fn create_task(
        &self,
        actor: &ChatActor,
        input: NewTask,
    ) -> impl Future<Output = Result<TaskSummary, CrmError>> + Send;

    fn list_tasks(
        &self,
        actor: &ChatActor,
        filter: TaskFilter,
    ) -> impl Future<Output = Result<Vec<TaskSummary>, CrmError>> + Send;

    /// The actor's follow-ups and tasks due in `window`, counted from `now`.
    fn due(
        &self,
        actor: &ChatActor,
        window: DueWindow,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<DueItem>, CrmError>> + Send;

    fn assign_lead(
        &self,
        actor: &ChatActor,
        lead_id: &str,
        username: &str,
    ) -> impl Future<Output = Result<LeadSummary, CrmError>> + Send;

    fn create_reminder(
        &self,
        actor: &ChatActor,
        at: DateTime<Utc>,
        text: &str,
    ) -> impl Future<Output = Result<Reminder, CrmError>> + Send;
}
