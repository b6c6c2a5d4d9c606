//! The root crate's side of `bots::Crm`: each trait method is one call of
//! the domain services, made as the linked user.
//!
//! A `DomainCrm` is built per incoming message with the actor already
//! resolved from the chat link (or the web session), so permissions and
//! the audit channel are exactly those of any other entry point. It only
//! translates; the rules stay in `crate::domain`.

use std::sync::Arc;

use bots::command::{
    DueWindow, FollowUpOutcome, LeadRef, NewCall, NewContact, NewFollowUp, NewLead, Tier,
};
use bots::crm::{
    ChatActor, Contact, DueItem, DueKind, LeadCard, LeadSummary, NewTask, Reminder, TaskFilter,
    TaskSummary, TierState,
};
use bots::{Crm, CrmError, Intent, ParseContext, PartsOff, Platform};
use chrono::{DateTime, Utc};

use crate::domain::actor::Actor;
use crate::domain::ai;
use crate::domain::chat::reminders;
use crate::domain::crm::followups::{self, DueQuery, DueScope, FollowUpInput, Outcome};
use crate::domain::crm::query::{self, FollowUpDue, LeadFilter, PageRequest};
use crate::domain::crm::{calls, contacts, leads, notes};
use crate::domain::cursor::MAX_PAGE;
use crate::domain::error::DomainError;
use crate::domain::features::Feature;
use crate::domain::{links, users, Ctx};

/// How many leads a search or a name lookup reads.
const LOOKUP_LIMIT: usize = 10;

/// The most search pages a lookup follows to find its leads.
const LOOKUP_PAGES: usize = 5;

/// The CRM as one user sees it through one chat platform.
#[derive(Clone)]
pub struct DomainCrm {
    ctx: Arc<Ctx>,
    /// The resolved user; `None` for an unlinked chat account, which can
    /// only link.
    actor: Option<Actor>,
}

impl DomainCrm {
    pub fn new(ctx: Arc<Ctx>, actor: Option<Actor>) -> Self {
        DomainCrm { ctx, actor }
    }

    /// The actor for a call: the one this CRM was built for, and only if the
    /// engine speaks for the same user.
    fn actor(&self, chat: &ChatActor) -> Result<&Actor, CrmError> {
        match &self.actor {
            Some(actor) if actor.user_id == chat.user_id => Ok(actor),
            _ => Err(CrmError::Unlinked),
        }
    }

    async fn username_of(&self, user_id: Option<&str>) -> Option<String> {
        let id = user_id?;
        match users::find_record(&self.ctx, id).await {
            Ok(Some(record)) => Some(record.user.username),
            _ => Some(id.to_string()),
        }
    }

    async fn summary(&self, lead: &leads::Lead) -> LeadSummary {
        LeadSummary {
            id: lead.id.clone(),
            name: lead.company_name.clone(),
            domain: lead.domain.clone(),
            status: lead.status.clone(),
            owner: self.username_of(lead.owner.as_deref()).await,
        }
    }

    async fn search(&self, actor: &Actor, q: &str) -> Result<Vec<leads::Lead>, CrmError> {
        let filter = LeadFilter {
            q: Some(q.to_string()),
            ..Default::default()
        };
        let mut page = PageRequest {
            limit: LOOKUP_LIMIT,
            ..Default::default()
        };
        // A search page may end short with a cursor (a word neither common
        // nor rare); a few of them still make a lookup.
        let mut found = Vec::new();
        for _ in 0..LOOKUP_PAGES {
            let result = query::list(&self.ctx, actor, &filter, &page)
                .await
                .map_err(crm_error)?;
            found.extend(result.items);
            match result.next_cursor {
                Some(cursor) if found.len() < LOOKUP_LIMIT => page.after = Some(cursor),
                _ => break,
            }
        }
        found.truncate(LOOKUP_LIMIT);
        Ok(found)
    }
}

/// The chat actor of a resolved user: dates are read in their timezone.
pub async fn chat_actor(ctx: &Ctx, actor: &Actor) -> Result<ChatActor, DomainError> {
    let timezone = query::actor_timezone(ctx, actor).await?;
    Ok(ChatActor {
        user_id: actor.user_id.clone(),
        username: actor.username.clone(),
        timezone,
    })
}

/// Domain refusals as sentences a chat user can act on; internal causes
/// go to the log, never to the chat.
pub fn crm_error(e: DomainError) -> CrmError {
    match e {
        DomainError::NotFound(what) => CrmError::NotFound(format!("that {what}")),
        DomainError::Forbidden(permission) => {
            CrmError::Forbidden(format!("do that (it needs the `{permission}` permission)"))
        }
        DomainError::Invalid { field, reason } | DomainError::Malformed { field, reason } => {
            CrmError::Invalid {
                field: field.to_string(),
                reason,
            }
        }
        DomainError::Unauthenticated
        | DomainError::BadCredentials
        | DomainError::SecondFactorRequired
        | DomainError::WrongSecondFactor
        | DomainError::SecondFactorSetupRequired => CrmError::Unlinked,
        DomainError::Conflict(message) | DomainError::PreconditionFailed(message) => {
            CrmError::Other(message)
        }
        // Owners by id: `create_lead` names them; this is the fallback.
        DomainError::Duplicate(candidates) => CrmError::Duplicate(
            candidates
                .into_iter()
                .map(|c| LeadSummary {
                    id: c.id,
                    name: c.company_name,
                    domain: c.domain,
                    status: c.status,
                    owner: None,
                })
                .collect(),
        ),
        DomainError::FeatureDisabled { name, .. } => CrmError::SwitchedOff(name.to_string()),
        e @ (DomainError::RateLimited { .. }
        | DomainError::Busy { .. }
        | DomainError::Maintenance { .. }) => CrmError::Other(e.to_string()),
        DomainError::Internal(cause) => {
            tracing::warn!(%cause, "bot command failed inside");
            CrmError::Other("something went wrong on our side; try again".into())
        }
    }
}

fn outcome_of(o: Outcome) -> FollowUpOutcome {
    match o {
        Outcome::Pending => FollowUpOutcome::Pending,
        Outcome::Done => FollowUpOutcome::Done,
        Outcome::NoAnswer => FollowUpOutcome::NoAnswer,
        Outcome::Replied => FollowUpOutcome::Replied,
        Outcome::Skipped => FollowUpOutcome::Skipped,
    }
}

fn tier_of(n: u8) -> Tier {
    match n {
        1 => Tier::First,
        2 => Tier::Second,
        _ => Tier::Third,
    }
}

fn tier_state(f: &followups::FollowUp) -> TierState {
    TierState {
        tier: tier_of(f.tier),
        // An untouched tier reads as "not logged yet", not as "pending".
        outcome: f.updated_at.map(|_| outcome_of(f.outcome)),
        scheduled_at: f.scheduled_at,
        notes: Some(f.notes.clone()).filter(|n| !n.is_empty()),
    }
}

/// How many notes a `/show` card lists.
const RECENT_NOTES: usize = 5;

/// The card's notes, latest first: the lead's own notes and the notes of
/// its follow-ups, each with its author.
fn recent_notes(lead_notes: &[notes::Note], history: &[followups::HistoryEntry]) -> Vec<String> {
    let mut dated: Vec<(DateTime<Utc>, String)> = lead_notes
        .iter()
        .map(|n| (n.created_at, format!("{} ({})", n.text, n.author_name)))
        .chain(
            history
                .iter()
                .filter(|h| !h.notes.is_empty())
                .map(|h| (h.at, format!("{} (@{})", h.notes, h.by_name))),
        )
        .collect();
    dated.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    dated
        .into_iter()
        .take(RECENT_NOTES)
        .map(|(_, line)| line)
        .collect()
}

fn contact_of(c: contacts::Contact) -> Contact {
    Contact {
        id: c.id,
        name: c.name,
        position: c.position,
        phone: c.phone,
        email: c.email,
        linkedin: c.linkedin,
    }
}

impl DomainCrm {
    /// The actor's open tasks due in `window` ("today" ends at midnight on
    /// their own clock, and includes what is overdue).
    async fn push_due_tasks(
        &self,
        actor: &Actor,
        chat: &ChatActor,
        window: DueWindow,
        now: DateTime<Utc>,
        items: &mut Vec<DueItem>,
    ) -> Result<(), CrmError> {
        use crate::domain::tasks::queries::{self, Due, TaskSort};
        let local = now.with_timezone(&chat.timezone);
        let hours_left_today = local
            .date_naive()
            .succ_opt()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .and_then(|midnight| midnight.and_local_timezone(chat.timezone).earliest())
            .map(|midnight| (midnight.with_timezone(&Utc) - now).num_minutes() / 60)
            .unwrap_or(24)
            .max(1);
        let views: &[Due] = match window {
            DueWindow::Today => &[
                Due::Overdue,
                Due::Soon {
                    hours: hours_left_today,
                },
            ],
            DueWindow::Overdue => &[Due::Overdue],
            DueWindow::Week => &[Due::Soon { hours: 24 * 7 }],
        };
        for due in views {
            let query = queries::TaskFilter {
                assignee: Some("me".to_string()),
                due: Some(*due),
                open_only: true,
                ..Default::default()
            };
            let page = queries::list(&self.ctx, actor, &query, TaskSort::Due, None, 50)
                .await
                .map_err(crm_error)?;
            for task in page.items {
                let Some(at) = task.due_at else {
                    continue;
                };
                let summary = self.task_summary(task).await?;
                items.push(DueItem {
                    kind: DueKind::Task {
                        priority: summary.priority,
                    },
                    title: summary.title,
                    lead_name: summary.lead_name,
                    due: at,
                });
            }
        }
        Ok(())
    }

    /// The lead's open tasks the actor may see, soonest due first; none for
    /// someone without `tasks.read` (the card still shows the rest).
    async fn open_tasks_of(
        &self,
        actor: &Actor,
        lead_id: &str,
    ) -> Result<Vec<TaskSummary>, CrmError> {
        use crate::domain::tasks::queries;
        let query = queries::TaskFilter {
            lead: Some(lead_id.to_string()),
            open_only: true,
            ..Default::default()
        };
        let page =
            match queries::list(&self.ctx, actor, &query, queries::TaskSort::Due, None, 10).await {
                Ok(page) => page,
                Err(crate::domain::error::DomainError::Forbidden(_)) => return Ok(Vec::new()),
                Err(e) => return Err(crm_error(e)),
            };
        let mut out = Vec::with_capacity(page.items.len());
        for task in page.items {
            out.push(self.task_summary(task).await?);
        }
        Ok(out)
    }

    /// A task in the bots' terms: the assignee's username, the client's name.
    async fn task_summary(
        &self,
        task: crate::domain::tasks::task::Task,
    ) -> Result<TaskSummary, CrmError> {
        let assignee = match &task.assignee {
            Some(id) => users::find_record(&self.ctx, id)
                .await
                .map_err(crm_error)?
                .map(|r| r.user.username),
            None => None,
        };
        // A task can be about a lead its reader may not see (assigned to
        // them by a manager): then the line does not name it.
        let lead_name = match (&task.lead, &self.actor) {
            (Some(id), Some(actor)) => leads::visible_name(&self.ctx, actor, id)
                .await
                .map_err(crm_error)?,
            _ => None,
        };
        let priority =
            bots::command::Priority::from_word(task.priority.as_str()).unwrap_or_default();
        Ok(TaskSummary {
            id: task.id,
            title: task.title,
            assignee,
            due: task.due_at,
            priority,
            state: if task.is_open {
                bots::crm::TaskState::Open
            } else {
                bots::crm::TaskState::Done
            },
            lead_name,
        })
    }
}

impl Crm for DomainCrm {
    /// This instance's view of the switches: no query per message.
    fn parts_off(&self) -> PartsOff {
        let off = self.ctx.features.off();
        PartsOff {
            chat: off.contains(Feature::Chat),
            intent: off.contains(Feature::Intent),
        }
    }

    /// The same domain call as `POST /api/v1/ai/intent` (the model's answer
    /// checked against the schema, its tokens recorded for the user, the
    /// `ai.use` permission and the intent switch checked), taken only when
    /// the model answered: a local answer from the domain is left for the
    /// engine's own rules, which keep more than the shared shape does.
    async fn read_intent(
        &self,
        chat: &ChatActor,
        text: &str,
        parse: &ParseContext,
    ) -> Option<Intent> {
        let actor = self.actor(chat).ok()?;
        // Without a model the domain would only run the local rules.
        self.ctx.ai.remote.as_ref()?;
        let served = ai::detect_intent(&self.ctx, actor, text, Some(parse.timezone.name()))
            .await
            .inspect_err(|e| tracing::debug!(error = %e, "the model did not read a bot mention"))
            .ok()?;
        // With a model configured, an answer without a fallback reason is its.
        if served.fallback_reason.is_some() {
            return None;
        }
        ai::intent::to_rules(&served.value, text, parse)
            .inspect_err(|reason| {
                tracing::warn!(%reason, "the model's reading of a bot mention does not fit; the local rules read it")
            })
            .ok()
    }

    async fn link_account(
        &self,
        platform: Platform,
        platform_user_id: &str,
        code: &str,
    ) -> Result<ChatActor, CrmError> {
        if platform == Platform::Web {
            return Err(CrmError::Other(
                "the web chat is already your account; send /link to the Telegram or Discord bot"
                    .into(),
            ));
        }
        let user = links::redeem(&self.ctx, platform.as_str(), platform_user_id, code)
            .await
            .map_err(crm_error)?;
        Ok(ChatActor {
            user_id: user.id,
            username: user.username,
            timezone: user.timezone.parse().unwrap_or(chrono_tz::UTC),
        })
    }

    async fn resolve_lead(
        &self,
        chat: &ChatActor,
        lead: &LeadRef,
    ) -> Result<LeadSummary, CrmError> {
        let actor = self.actor(chat)?;
        let found = match lead {
            LeadRef::Id(id) => {
                let detail = leads::get(&self.ctx, actor, id).await.map_err(crm_error)?;
                return Ok(self.summary(&detail.lead).await);
            }
            LeadRef::Domain(domain) => {
                let found = self.search(actor, domain).await?;
                let exact: Vec<_> = found
                    .iter()
                    .filter(|l| l.domain.as_deref() == Some(domain.as_str()))
                    .cloned()
                    .collect();
                if exact.is_empty() {
                    found
                } else {
                    exact
                }
            }
            LeadRef::Name(name) => {
                let found = self.search(actor, name).await?;
                let exact: Vec<_> = found
                    .iter()
                    .filter(|l| l.company_name.eq_ignore_ascii_case(name.trim()))
                    .cloned()
                    .collect();
                if exact.len() == 1 {
                    exact
                } else {
                    found
                }
            }
        };
        match found.as_slice() {
            [] => Err(CrmError::NotFound(format!("a lead matching \"{lead}\""))),
            [one] => Ok(self.summary(one).await),
            many => {
                let mut candidates = Vec::with_capacity(many.len());
                for l in many {
                    candidates.push(self.summary(l).await);
                }
                Err(CrmError::Ambiguous(candidates))
            }
        }
    }

    async fn create_lead(&self, chat: &ChatActor, input: NewLead) -> Result<LeadSummary, CrmError> {
        let actor = self.actor(chat)?;
        let detail = leads::create(
            &self.ctx,
            actor,
            leads::NewLead {
                company_name: input.company,
                website: input.website,
                industry: input.industry,
                status: None,
                country: input.country,
                state: input.state,
                timezone: None,
                // No owner given: the assignment rule decides, as on the web.
                owner: input.owner,
                source: input
                    .source
                    .or_else(|| Some(actor.channel.as_str().to_string())),
                tags: input.tags,
                contacts: Vec::new(),
                allow_duplicate: input.allow_duplicate,
            },
        )
        .await;
        match detail {
            Ok(detail) => Ok(self.summary(&detail.lead).await),
            Err(DomainError::Duplicate(candidates)) => {
                let mut found = Vec::with_capacity(candidates.len());
                for c in candidates {
                    found.push(LeadSummary {
                        owner: self.username_of(c.owner.as_deref()).await,
                        id: c.id,
                        name: c.company_name,
                        domain: c.domain,
                        status: c.status,
                    });
                }
                Err(CrmError::Duplicate(found))
            }
            Err(e) => Err(crm_error(e)),
        }
    }

    async fn find_leads(&self, chat: &ChatActor, q: &str) -> Result<Vec<LeadSummary>, CrmError> {
        let actor = self.actor(chat)?;
        let mut out = Vec::new();
        for lead in self.search(actor, q).await? {
            out.push(self.summary(&lead).await);
        }
        Ok(out)
    }

    async fn lead_card(&self, chat: &ChatActor, lead_id: &str) -> Result<LeadCard, CrmError> {
        let actor = self.actor(chat)?;
        let detail = leads::get(&self.ctx, actor, lead_id)
            .await
            .map_err(crm_error)?;
        let follow_ups = followups::get(&self.ctx, actor, lead_id)
            .await
            .map_err(crm_error)?;
        let tier = |n: usize| {
            follow_ups
                .tiers
                .get(n)
                .map(tier_state)
                .unwrap_or(TierState {
                    tier: tier_of(n as u8 + 1),
                    outcome: None,
                    scheduled_at: None,
                    notes: None,
                })
        };
        let lead_notes = notes::latest(&self.ctx, actor, &detail.lead.id, RECENT_NOTES)
            .await
            .map_err(crm_error)?;
        let recent_notes = recent_notes(&lead_notes, &follow_ups.history);
        let open_tasks = self.open_tasks_of(actor, &detail.lead.id).await?;
        Ok(LeadCard {
            lead: self.summary(&detail.lead).await,
            industry: detail.lead.industry.clone(),
            country: detail.lead.country.clone(),
            state: detail.lead.state.clone(),
            tags: detail.lead.tags.clone(),
            source: detail.lead.source.clone(),
            contacts: detail.contacts.into_iter().map(contact_of).collect(),
            tiers: [tier(0), tier(1), tier(2)],
            open_tasks,
            recent_notes,
        })
    }

    async fn set_status(
        &self,
        chat: &ChatActor,
        lead_id: &str,
        status: &str,
    ) -> Result<LeadSummary, CrmError> {
        let actor = self.actor(chat)?;
        let lead = leads::update(
            &self.ctx,
            actor,
            lead_id,
            leads::LeadPatch {
                status: Some(status.to_string()),
                ..Default::default()
            },
        )
        .await
        .map_err(crm_error)?;
        Ok(self.summary(&lead).await)
    }

    async fn log_follow_up(
        &self,
        chat: &ChatActor,
        lead_id: &str,
        input: NewFollowUp,
    ) -> Result<TierState, CrmError> {
        let actor = self.actor(chat)?;
        let tier = input.tier.number();
        let state = followups::log(
            &self.ctx,
            actor,
            lead_id,
            tier,
            FollowUpInput {
                outcome: Some(input.outcome.as_str().to_string()),
                scheduled_at: input.scheduled_at.map(Some),
                done_at: None,
                notes: input.notes,
            },
        )
        .await
        .map_err(crm_error)?;
        state
            .tiers
            .iter()
            .find(|f| f.tier == tier)
            .map(tier_state)
            .ok_or_else(|| CrmError::NotFound("that follow-up".into()))
    }

    async fn add_contact(
        &self,
        chat: &ChatActor,
        lead_id: &str,
        input: NewContact,
    ) -> Result<Contact, CrmError> {
        let actor = self.actor(chat)?;
        let contact = contacts::add(
            &self.ctx,
            actor,
            lead_id,
            contacts::NewContact {
                name: input.name,
                position: input.position,
                phone: input.phone,
                email: input.email,
                linkedin: input.linkedin,
            },
        )
        .await
        .map_err(crm_error)?;
        Ok(contact_of(contact))
    }

    async fn add_note(&self, chat: &ChatActor, lead_id: &str, text: &str) -> Result<(), CrmError> {
        let actor = self.actor(chat)?;
        notes::create(&self.ctx, actor, lead_id, text)
            .await
            .map_err(crm_error)?;
        Ok(())
    }

    async fn log_call(
        &self,
        chat: &ChatActor,
        lead_id: &str,
        input: NewCall,
    ) -> Result<(), CrmError> {
        let actor = self.actor(chat)?;
        calls::log(
            &self.ctx,
            actor,
            lead_id,
            calls::NewCall {
                outcome: input.outcome,
                duration_seconds: input.duration_secs.map(i64::from),
                notes: input.notes,
                at: None,
            },
        )
        .await
        .map_err(crm_error)?;
        Ok(())
    }

    async fn create_task(&self, chat: &ChatActor, input: NewTask) -> Result<TaskSummary, CrmError> {
        let actor = self.actor(chat)?;
        let task = crate::domain::tasks::task::create(
            &self.ctx,
            actor,
            crate::domain::tasks::task::NewTask {
                title: input.title,
                description: None,
                task_type: "general".into(),
                priority: Some(input.priority.as_str().to_string()),
                status: None,
                lead: input.lead_id,
                assignee: input.assignee,
                watchers: Vec::new(),
                due_at: input.due,
                estimate_minutes: None,
                checklist: Vec::new(),
            },
        )
        .await
        .map_err(crm_error)?;
        self.task_summary(task).await
    }

    async fn list_tasks(
        &self,
        chat: &ChatActor,
        filter: TaskFilter,
    ) -> Result<Vec<TaskSummary>, CrmError> {
        use crate::domain::tasks::queries;
        let actor = self.actor(chat)?;
        let assignee = match filter.assignee.as_deref() {
            None => "me".to_string(),
            Some(name) => users::find_by_username(&self.ctx, name)
                .await
                .map_err(crm_error)?
                .map(|r| r.user.id)
                .ok_or_else(|| CrmError::NotFound(format!("user @{name}")))?,
        };
        let query = queries::TaskFilter {
            assignee: Some(assignee),
            open_only: filter.status == bots::command::TaskStatusFilter::Open,
            status: (filter.status == bots::command::TaskStatusFilter::Done)
                .then(|| "done".to_string()),
            ..Default::default()
        };
        let page = queries::list(&self.ctx, actor, &query, queries::TaskSort::Due, None, 20)
            .await
            .map_err(crm_error)?;
        let mut out = Vec::with_capacity(page.items.len());
        for task in page.items {
            out.push(self.task_summary(task).await?);
        }
        Ok(out)
    }

    async fn due(
        &self,
        chat: &ChatActor,
        window: DueWindow,
        now: DateTime<Utc>,
    ) -> Result<Vec<DueItem>, CrmError> {
        let actor = self.actor(chat)?;
        let view = match window {
            DueWindow::Today => FollowUpDue::Today,
            DueWindow::Overdue => FollowUpDue::Overdue,
            DueWindow::Week => FollowUpDue::Week,
        };
        let mut items: Vec<DueItem> = Vec::new();
        // "Today" includes what is overdue: that is what a rep has to do today.
        let views: &[FollowUpDue] = match view {
            FollowUpDue::Today => &[FollowUpDue::Overdue, FollowUpDue::Today],
            _ => std::slice::from_ref(&view),
        };
        for v in views {
            // The first page, as with tasks: a chat reply lists the soonest
            // and counts the rest.
            let query = DueQuery {
                view: *v,
                who: DueScope::Mine,
                after: None,
                limit: MAX_PAGE,
            };
            for f in followups::due(&self.ctx, actor, query)
                .await
                .map_err(crm_error)?
                .items
            {
                let duplicate = items.iter().any(|i| {
                    i.lead_name.as_deref() == Some(f.company_name.as_str())
                        && i.due == f.scheduled_at
                });
                if !duplicate {
                    items.push(DueItem {
                        kind: DueKind::FollowUp {
                            tier: tier_of(f.tier),
                        },
                        title: format!("Follow-up {} with {}", f.tier, f.company_name),
                        lead_name: Some(f.company_name),
                        due: f.scheduled_at,
                    });
                }
            }
        }
        self.push_due_tasks(actor, chat, window, now, &mut items)
            .await?;
        items.sort_by_key(|i| i.due);
        Ok(items)
    }

    async fn assign_lead(
        &self,
        chat: &ChatActor,
        lead_id: &str,
        username: &str,
    ) -> Result<LeadSummary, CrmError> {
        let actor = self.actor(chat)?;
        let lead = leads::assign(&self.ctx, actor, lead_id, username)
            .await
            .map_err(crm_error)?;
        Ok(self.summary(&lead).await)
    }

    async fn create_reminder(
        &self,
        chat: &ChatActor,
        at: DateTime<Utc>,
        text: &str,
    ) -> Result<Reminder, CrmError> {
        let actor = self.actor(chat)?;
        let reminder = reminders::create(
            &self.ctx,
            actor,
            reminders::NewReminder {
                text: text.to_string(),
                due_at: at,
                message: None,
            },
        )
        .await
        .map_err(crm_error)?;
        Ok(Reminder {
            id: reminder.id,
            at: reminder.due_at,
            text: reminder.text,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: u32) -> DateTime<Utc> {
        format!("2026-12-01T10:{minute:02}:00Z").parse().unwrap()
    }

    fn note(text: &str, minute: u32) -> notes::Note {
        notes::Note {
            id: format!("n{minute}"),
            lead: "l".into(),
            author: "u1".into(),
            author_name: "Maria Rossi".into(),
            text: text.into(),
            created_at: at(minute),
            edited_at: None,
        }
    }

    fn follow_up_note(text: &str, minute: u32) -> followups::HistoryEntry {
        followups::HistoryEntry {
            tier: 1,
            outcome: Outcome::Done,
            scheduled_at: None,
            done_at: Some(at(minute)),
            notes: text.into(),
            by: "u2".into(),
            by_name: "bob".into(),
            at: at(minute),
        }
    }

    #[test]
    fn the_card_merges_lead_notes_and_follow_up_notes_latest_first() {
        let lead_notes = [note("budget approved", 30), note("met at the fair", 10)];
        let history = [follow_up_note("sent the deck", 20), follow_up_note("", 40)];
        assert_eq!(
            recent_notes(&lead_notes, &history),
            [
                "budget approved (Maria Rossi)",
                "sent the deck (@bob)",
                "met at the fair (Maria Rossi)"
            ]
        );
    }

    #[test]
    fn the_card_lists_at_most_a_few_notes() {
        let lead_notes: Vec<_> = (0..8).map(|m| note(&format!("n{m}"), m)).collect();
        let lines = recent_notes(&lead_notes, &[]);
        assert_eq!(lines.len(), RECENT_NOTES);
        assert_eq!(lines[0], "n7 (Maria Rossi)");
    }
}
