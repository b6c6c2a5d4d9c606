//! Runs a chat message against a [`Crm`] and answers with a [`Reply`].
//!
//! Promises:
//! - an unlinked account gets only the link prompt, except for `/link` and `/help`;
//! - `/command` text runs at once; plain words (a mention or a direct message) are
//!   only ever *proposed*: the reply carries the proposed commands behind a confirm
//!   button, and nothing changes until the adapter hands them back to [`Engine::run`];
//! - an ambiguous lead becomes a question with one button per candidate, which
//!   re-runs the same command (and any that were to follow it) with that lead's id;
//! - a new lead that looks like stored ones becomes a question with a button to
//!   open each and one to create it anyway;
//! - every CRM refusal becomes a short sentence ([`replies::crm_error`]);
//! - a command addressed to another bot (`/help@OtherBot`) gets no reply at all;
//! - plain words are read by the model when the CRM has one ([`Crm::read_intent`]),
//!   else by the local rules ([`detect_intent`]): when no model is configured, when
//!   it fails, times out or answers outside the schema, and while intent is
//!   switched off (the model is then not asked at all). Every plain-words reply
//!   ends saying which read it ([`ReadBy::note`]);
//! - while a part is switched off ([`Crm::parts_off`]), `/help` leaves out its
//!   commands and they are refused with a sentence saying so.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::catalog::{help_for, help_text};
use crate::command::{Command, LeadRef, NewLead};
use crate::crm::{ChatActor, Crm, CrmError, LeadSummary, NewTask, Part, Platform, TaskFilter};
use crate::intent::{detect_intent, plain_words, Intent, ReadBy};
use crate::parse::{addressed_to_other_bot, command_name, parse, ParseContext};
use crate::replies;

/// Who sent a message.
#[derive(Clone, Debug)]
pub struct Sender {
    pub platform: Platform,
    /// The platform's id for the account (Telegram user id, Discord user id, …).
    pub platform_user_id: String,
    /// The CRM user the account is linked to, if it is.
    pub actor: Option<ChatActor>,
}

/// What the bot says back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub text: String,
    pub buttons: Vec<Button>,
}

impl Reply {
    pub fn text(text: impl Into<String>) -> Self {
        Reply {
            text: text.into(),
            buttons: Vec::new(),
        }
    }
}

/// An inline button under a reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub label: String,
    pub action: ButtonAction,
}

/// What pressing a button does. The adapter keeps the action (platforms limit
/// callback data, e.g. Telegram to 64 bytes, so it stores it and sends a key) and
/// on press calls [`Engine::run`] with the commands, or drops them on `Cancel`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ButtonAction {
    Run(Vec<Command>),
    Cancel,
}

/// The command engine over a CRM.
pub struct Engine<C> {
    crm: C,
}

impl<C: Crm> Engine<C> {
    pub fn new(crm: C) -> Self {
        Engine { crm }
    }

    pub fn crm(&self) -> &C {
        &self.crm
    }

    /// Answers one message; `None` means stay silent (empty text, or a command for
    /// another bot). Dates are read in the linked user's timezone when there is one.
    pub async fn handle(&self, from: &Sender, text: &str, ctx: &ParseContext) -> Option<Reply> {
        let text = strip_own_mention(text.trim(), ctx);
        if text.is_empty() || addressed_to_other_bot(text, ctx) {
            return None;
        }
        let ctx = context_for(from, ctx);
        if text.starts_with('/') {
            let works_unlinked = command_name(text).is_some_and(|n| n.works_unlinked());
            if from.actor.is_none() && !works_unlinked {
                return Some(Reply::text(replies::LINK_PROMPT));
            }
            return Some(match parse(text, &ctx) {
                Ok(command) => self.run(from, vec![command], &ctx).await,
                Err(e) => Reply::text(e.to_string()),
            });
        }
        let Some(actor) = &from.actor else {
            return Some(Reply::text(replies::LINK_PROMPT));
        };
        let (intent, read_by) = self.read(actor, text, &ctx).await;
        let said = |text: &str| replies::read_by(text, read_by);
        Some(match intent.proposal(ctx.timezone) {
            Some(p) => Reply {
                text: said(&p.summary),
                buttons: vec![
                    Button {
                        label: "Confirm".into(),
                        action: ButtonAction::Run(p.commands),
                    },
                    Button {
                        label: "Cancel".into(),
                        action: ButtonAction::Cancel,
                    },
                ],
            },
            None if matches!(intent, Intent::Question { .. }) => Reply::text(said(
                "I can't answer that in words yet. Try /find, /show <lead>, /due or /tasks.",
            )),
            None => Reply::text(said(
                "I didn't catch that. Try \"log a call with Acme, interested\" or send /help.",
            )),
        })
    }

    /// Plain words as the model reads them, or as the local rules do when the
    /// model is switched off or gives no usable reading.
    async fn read(&self, actor: &ChatActor, text: &str, ctx: &ParseContext) -> (Intent, ReadBy) {
        if !self.crm.parts_off().contains(Part::Intent) {
            let words = plain_words(text, ctx);
            if !words.is_empty() {
                if let Some(intent) = self.crm.read_intent(actor, &words, ctx).await {
                    return (intent, ReadBy::Model);
                }
            }
        }
        (detect_intent(text, ctx), ReadBy::LocalRules)
    }

    /// Runs commands in order (a parsed command, or those behind a pressed
    /// button). Stops at the first refusal; an ambiguous lead turns into a question
    /// whose buttons carry the rest of the run.
    pub async fn run(&self, from: &Sender, commands: Vec<Command>, ctx: &ParseContext) -> Reply {
        let ctx = context_for(from, ctx);
        let mut queue: VecDeque<Command> = commands.into();
        let mut texts = Vec::new();
        while let Some(command) = queue.pop_front() {
            match self.execute(from, &command, &ctx).await {
                Ok(text) => texts.push(text),
                Err(CrmError::Ambiguous(candidates)) => {
                    texts.push(replies::ambiguous(&candidates));
                    let buttons = candidates
                        .iter()
                        .take(replies::MAX_LIST)
                        .map(|lead| Button {
                            label: match &lead.domain {
                                Some(d) => format!("{} ({d})", lead.name),
                                None => lead.name.clone(),
                            },
                            action: ButtonAction::Run(with_lead_id(&command, &queue, &lead.id)),
                        })
                        .chain(std::iter::once(Button {
                            label: "Cancel".into(),
                            action: ButtonAction::Cancel,
                        }))
                        .collect();
                    return Reply {
                        text: texts.join("\n\n"),
                        buttons,
                    };
                }
                Err(CrmError::Duplicate(candidates)) => {
                    texts.push(replies::duplicate(&candidates));
                    return Reply {
                        text: texts.join("\n\n"),
                        buttons: duplicate_buttons(&command, &queue, &candidates),
                    };
                }
                Err(e) => {
                    texts.push(replies::crm_error(&e));
                    break;
                }
            }
        }
        Reply::text(texts.join("\n\n"))
    }

    async fn lead(&self, actor: &ChatActor, lead: &LeadRef) -> Result<LeadSummary, CrmError> {
        self.crm.resolve_lead(actor, lead).await
    }

    async fn execute(
        &self,
        from: &Sender,
        command: &Command,
        ctx: &ParseContext,
    ) -> Result<String, CrmError> {
        let tz = ctx.timezone;
        let off = self.crm.parts_off();
        if let Some(part) = command.name().switched_off(off) {
            return Err(CrmError::SwitchedOff(part.name().to_string()));
        }
        // `/help` and `/link` are the only commands that need no linked actor.
        let actor = || from.actor.as_ref().ok_or(CrmError::Unlinked);
        Ok(match command {
            Command::Help { command: None } => help_text(off),
            Command::Help {
                command: Some(name),
            } => help_for(*name, off),
            Command::Link { code } => {
                let linked = self
                    .crm
                    .link_account(from.platform, &from.platform_user_id, code)
                    .await?;
                format!(
                    "Linked: this {} account is now @{}. Send /help to see what I can do.",
                    from.platform.as_str(),
                    linked.username
                )
            }
            Command::Lead(input) => {
                let lead = self.crm.create_lead(actor()?, input.clone()).await?;
                replies::lead_created(&lead, input)
            }
            Command::Find { query } => {
                let leads = self.crm.find_leads(actor()?, query).await?;
                replies::lead_list(query, &leads)
            }
            Command::Show { lead } => {
                let id = self.lead(actor()?, lead).await?.id;
                replies::lead_card(&self.crm.lead_card(actor()?, &id).await?, tz)
            }
            Command::Status { lead, status } => {
                let id = self.lead(actor()?, lead).await?.id;
                let lead = self.crm.set_status(actor()?, &id, status).await?;
                format!("{} is now {}.", lead.name, lead.status)
            }
            Command::FollowUp { lead, follow_up } => {
                let lead = self.lead(actor()?, lead).await?;
                let id = lead.id.as_str();
                let state = self
                    .crm
                    .log_follow_up(actor()?, id, follow_up.clone())
                    .await?;
                replies::follow_up_logged(&lead, &state, tz)
            }
            Command::Contact { lead, contact } => {
                let lead = self.lead(actor()?, lead).await?;
                let id = lead.id.as_str();
                let contact = self.crm.add_contact(actor()?, id, contact.clone()).await?;
                format!("Contact added to {}: {}", lead.name, contact.name)
            }
            Command::Note { lead, text } => {
                let lead = self.lead(actor()?, lead).await?;
                let id = lead.id.as_str();
                self.crm.add_note(actor()?, id, text).await?;
                format!("Note added to {}.", lead.name)
            }
            Command::Call { lead, call } => {
                let lead = self.lead(actor()?, lead).await?;
                let id = lead.id.as_str();
                self.crm.log_call(actor()?, id, call.clone()).await?;
                replies::call_logged(&lead, &call.outcome, call.duration_secs)
            }
            Command::Task {
                title,
                assignee,
                due,
                priority,
                lead,
            } => {
                let lead_id = match lead {
                    Some(lead) => Some(self.lead(actor()?, lead).await?.id),
                    None => None,
                };
                let task = self
                    .crm
                    .create_task(
                        actor()?,
                        NewTask {
                            title: title.clone(),
                            assignee: assignee.clone(),
                            due: *due,
                            priority: *priority,
                            lead_id,
                        },
                    )
                    .await?;
                replies::task_created(&task, tz)
            }
            Command::Tasks { assignee, status } => {
                let filter = TaskFilter {
                    assignee: assignee.clone(),
                    status: *status,
                };
                replies::task_list(&self.crm.list_tasks(actor()?, filter).await?, tz)
            }
            Command::Due { window } => {
                let items = self.crm.due(actor()?, *window, ctx.now).await?;
                replies::due_list(&items, ctx.now, tz)
            }
            Command::Assign { lead, user } => {
                let id = self.lead(actor()?, lead).await?.id;
                let lead = self.crm.assign_lead(actor()?, &id, user).await?;
                format!("{} is now assigned to @{user}.", lead.name)
            }
            Command::Remind { at, text } => {
                let reminder = self.crm.create_reminder(actor()?, *at, text).await?;
                replies::reminder_set(&reminder, tz)
            }
        })
    }
}

/// What a rep may do about a lead that looks like stored ones: open one of
/// them, or create it anyway (and run what was to follow).
fn duplicate_buttons(
    command: &Command,
    rest: &VecDeque<Command>,
    candidates: &[LeadSummary],
) -> Vec<Button> {
    let open = candidates
        .iter()
        .take(replies::MAX_LIST)
        .map(|lead| Button {
            label: format!("Open {}", lead.name),
            action: ButtonAction::Run(vec![Command::Show {
                lead: LeadRef::Id(lead.id.clone()),
            }]),
        });
    let anyway = match command {
        Command::Lead(input) => Some(Button {
            label: "Create anyway".into(),
            action: ButtonAction::Run(
                std::iter::once(Command::Lead(NewLead {
                    allow_duplicate: true,
                    ..input.clone()
                }))
                .chain(rest.iter().cloned())
                .collect(),
            ),
        }),
        _ => None,
    };
    open.chain(anyway)
        .chain(std::iter::once(Button {
            label: "Cancel".into(),
            action: ButtonAction::Cancel,
        }))
        .collect()
}

/// `command` with its lead replaced by `id`, followed by the rest of the queue; a
/// later command naming the same lead the same way gets the id too, so one choice
/// answers the whole proposal.
fn with_lead_id(command: &Command, rest: &VecDeque<Command>, id: &str) -> Vec<Command> {
    let original = command.clone().lead_mut().map(|l| l.clone());
    std::iter::once(command.clone())
        .chain(rest.iter().cloned())
        .map(|mut c| {
            if let Some(lead) = c.lead_mut() {
                if Some(&*lead) == original.as_ref() {
                    *lead = LeadRef::Id(id.to_string());
                }
            }
            c
        })
        .collect()
}

/// `@ThisBot /due` → `/due`: in groups people mention the bot before a command.
fn strip_own_mention<'a>(text: &'a str, ctx: &ParseContext) -> &'a str {
    let Some(me) = ctx.bot_username.as_deref() else {
        return text;
    };
    let Some(rest) = text.strip_prefix('@') else {
        return text;
    };
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let (name, after) = rest.split_at(end);
    let name = name.trim_end_matches([',', ':']);
    let after = after.trim_start();
    if name.eq_ignore_ascii_case(me) && after.starts_with('/') {
        after
    } else {
        text
    }
}

/// The parse context in the sender's own timezone, when linked.
fn context_for(from: &Sender, ctx: &ParseContext) -> ParseContext {
    let mut ctx = ctx.clone();
    if let Some(actor) = &from.actor {
        ctx.timezone = actor.timezone;
    }
    ctx
}
