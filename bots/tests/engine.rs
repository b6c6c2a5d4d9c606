//! The engine against an in-memory fake CRM, through the public API only — the
//! same surface the root crate and the adapters use.

use std::future::Future;
use std::pin::pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use bots::crm::{
    Contact, DueItem, DueKind, LeadCard, LeadSummary, NewTask, Reminder, TaskFilter, TaskState,
    TaskSummary, TierState,
};
use bots::{
    Button, ButtonAction, ChatActor, Command, Crm, CrmError, DueWindow, Engine, Intent, LeadRef,
    NewCall, NewContact, NewFollowUp, NewLead, ParseContext, PartsOff, Platform, Reply, Sender,
    Tier,
};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// The fake never waits, so polling once with a no-op waker completes it.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

#[derive(Default)]
struct State {
    leads: Vec<LeadSummary>,
    /// One line per write the CRM accepted, as a test would read a stored row.
    writes: Vec<String>,
    reminders: Vec<Reminder>,
    links: Vec<(Platform, String, String)>,
    off: PartsOff,
    /// What the model reads any plain words as; `None`: no model (or it failed).
    model: Option<Intent>,
    /// The words the model was asked to read, in order.
    asked: Vec<String>,
}

/// A CRM with a handful of leads. `viewer` may read but not write.
struct FakeCrm {
    state: Mutex<State>,
}

fn lead(id: &str, name: &str, domain: Option<&str>) -> LeadSummary {
    LeadSummary {
        id: id.into(),
        name: name.into(),
        domain: domain.map(Into::into),
        status: "new".into(),
        owner: Some("maria".into()),
    }
}

impl FakeCrm {
    fn new() -> Self {
        let state = State {
            leads: vec![
                lead("l1", "Acme Corp", Some("acme.com")),
                lead("l2", "Acme Ltd", Some("acme.co.uk")),
                lead("l3", "Globex", Some("globex.com")),
            ],
            ..State::default()
        };
        FakeCrm {
            state: Mutex::new(state),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn writes(&self) -> Vec<String> {
        self.state().writes.clone()
    }

    fn write(&self, actor: &ChatActor, what: String) -> Result<(), CrmError> {
        if actor.username == "viewer" {
            return Err(CrmError::Forbidden("change leads".into()));
        }
        self.state().writes.push(what);
        Ok(())
    }

    fn by_id(&self, id: &str) -> Result<LeadSummary, CrmError> {
        self.state()
            .leads
            .iter()
            .find(|l| l.id == id)
            .cloned()
            .ok_or_else(|| CrmError::NotFound(format!("lead #{id}")))
    }
}

impl Crm for FakeCrm {
    fn parts_off(&self) -> PartsOff {
        self.state().off
    }

    async fn read_intent(
        &self,
        _actor: &ChatActor,
        text: &str,
        _ctx: &ParseContext,
    ) -> Option<Intent> {
        let mut state = self.state();
        state.asked.push(text.into());
        state.model.clone()
    }

    async fn link_account(
        &self,
        platform: Platform,
        platform_user_id: &str,
        code: &str,
    ) -> Result<ChatActor, CrmError> {
        if code != "GOOD-CODE" {
            return Err(CrmError::Invalid {
                field: "code".into(),
                reason: "unknown or expired; get a new one in the panel".into(),
            });
        }
        self.state()
            .links
            .push((platform, platform_user_id.into(), code.into()));
        Ok(actor("maria", chrono_tz::Europe::Berlin))
    }

    async fn resolve_lead(
        &self,
        _actor: &ChatActor,
        lead: &LeadRef,
    ) -> Result<LeadSummary, CrmError> {
        let leads = self.state().leads.clone();
        let found: Vec<LeadSummary> = match lead {
            LeadRef::Id(id) => leads.into_iter().filter(|l| &l.id == id).collect(),
            LeadRef::Domain(d) => leads
                .into_iter()
                .filter(|l| l.domain.as_deref() == Some(d))
                .collect(),
            LeadRef::Name(n) => leads
                .into_iter()
                .filter(|l| l.name.to_lowercase().contains(&n.to_lowercase()))
                .collect(),
        };
        match found.len() {
            0 => Err(CrmError::NotFound(format!("a lead matching \"{lead}\""))),
            1 => Ok(found[0].clone()),
            _ => Err(CrmError::Ambiguous(found)),
        }
    }

    async fn create_lead(
        &self,
        actor: &ChatActor,
        input: NewLead,
    ) -> Result<LeadSummary, CrmError> {
        self.write(actor, format!("lead {input:?}"))?;
        let created = LeadSummary {
            id: "l9".into(),
            name: input.company,
            domain: input.website,
            status: "new".into(),
            owner: input.owner.or(Some(actor.username.clone())),
        };
        self.state().leads.push(created.clone());
        Ok(created)
    }

    async fn find_leads(
        &self,
        _actor: &ChatActor,
        query: &str,
    ) -> Result<Vec<LeadSummary>, CrmError> {
        let q = query.to_lowercase();
        Ok(self
            .state()
            .leads
            .iter()
            .filter(|l| l.name.to_lowercase().contains(&q))
            .cloned()
            .collect())
    }

    async fn lead_card(&self, _actor: &ChatActor, lead_id: &str) -> Result<LeadCard, CrmError> {
        let lead = self.by_id(lead_id)?;
        let tier = |tier| TierState {
            tier,
            outcome: None,
            scheduled_at: None,
            notes: None,
        };
        Ok(LeadCard {
            lead,
            industry: Some("SaaS".into()),
            country: Some("DE".into()),
            state: None,
            tags: vec![],
            source: None,
            contacts: vec![Contact {
                id: "c1".into(),
                name: "Jane Doe".into(),
                position: Some("CTO".into()),
                phone: None,
                email: None,
                linkedin: None,
            }],
            tiers: [tier(Tier::First), tier(Tier::Second), tier(Tier::Third)],
            open_tasks: vec![],
            recent_notes: vec![],
        })
    }

    async fn set_status(
        &self,
        actor: &ChatActor,
        lead_id: &str,
        status: &str,
    ) -> Result<LeadSummary, CrmError> {
        if status == "bogus" {
            return Err(CrmError::Invalid {
                field: "status".into(),
                reason: "must be one of new, qualified, won, lost".into(),
            });
        }
        self.write(actor, format!("status {lead_id} {status}"))?;
        let mut lead = self.by_id(lead_id)?;
        lead.status = status.into();
        Ok(lead)
    }

    async fn log_follow_up(
        &self,
        actor: &ChatActor,
        lead_id: &str,
        input: NewFollowUp,
    ) -> Result<TierState, CrmError> {
        self.write(actor, format!("followup {lead_id} {input:?}"))?;
        Ok(TierState {
            tier: input.tier,
            outcome: Some(input.outcome),
            scheduled_at: input.scheduled_at,
            notes: input.notes,
        })
    }

    async fn add_contact(
        &self,
        actor: &ChatActor,
        lead_id: &str,
        input: NewContact,
    ) -> Result<Contact, CrmError> {
        self.write(actor, format!("contact {lead_id} {}", input.name))?;
        Ok(Contact {
            id: "c2".into(),
            name: input.name,
            position: input.position,
            phone: input.phone,
            email: input.email,
            linkedin: input.linkedin,
        })
    }

    async fn add_note(&self, actor: &ChatActor, lead_id: &str, text: &str) -> Result<(), CrmError> {
        self.write(actor, format!("note {lead_id} {text}"))
    }

    async fn log_call(
        &self,
        actor: &ChatActor,
        lead_id: &str,
        input: NewCall,
    ) -> Result<(), CrmError> {
        self.write(actor, format!("call {lead_id} {}", input.outcome))
    }

    async fn create_task(
        &self,
        actor: &ChatActor,
        input: NewTask,
    ) -> Result<TaskSummary, CrmError> {
        self.write(actor, format!("task {:?} {:?}", input.title, input.lead_id))?;
        Ok(TaskSummary {
            id: "t1".into(),
            title: input.title,
            assignee: input.assignee,
            due: input.due,
            priority: input.priority,
            state: TaskState::Open,
            lead_name: None,
        })
    }

    async fn list_tasks(
        &self,
        _actor: &ChatActor,
        _filter: TaskFilter,
    ) -> Result<Vec<TaskSummary>, CrmError> {
        Ok(vec![])
    }

    async fn due(
        &self,
        _actor: &ChatActor,
        window: DueWindow,
        now: DateTime<Utc>,
    ) -> Result<Vec<DueItem>, CrmError> {
        assert_eq!(window, DueWindow::Today);
        Ok(vec![DueItem {
            kind: DueKind::FollowUp { tier: Tier::Second },
            title: "Send case study".into(),
            lead_name: Some("Acme Corp".into()),
            due: now - chrono::Duration::hours(26),
        }])
    }

    async fn assign_lead(
        &self,
        actor: &ChatActor,
        lead_id: &str,
        username: &str,
    ) -> Result<LeadSummary, CrmError> {
        if username == "ghost" {
            return Err(CrmError::NotFound("a user @ghost".into()));
        }
        self.write(actor, format!("assign {lead_id} {username}"))?;
        self.by_id(lead_id)
    }

    async fn create_reminder(
        &self,
        actor: &ChatActor,
        at: DateTime<Utc>,
        text: &str,
    ) -> Result<Reminder, CrmError> {
        self.write(actor, format!("remind {at} {text}"))?;
        let reminder = Reminder {
            id: "r1".into(),
            at,
            text: text.into(),
        };
        self.state().reminders.push(reminder.clone());
        Ok(reminder)
    }
}

fn actor(username: &str, timezone: Tz) -> ChatActor {
    ChatActor {
        user_id: format!("user:{username}"),
        username: username.into(),
        timezone,
    }
}

fn sender(actor: Option<ChatActor>) -> Sender {
    Sender {
        platform: Platform::Telegram,
        platform_user_id: "4242".into(),
        actor,
    }
}

fn maria() -> Sender {
    sender(Some(actor("maria", chrono_tz::Europe::Berlin)))
}

/// Friday 2026-11-27 09:00 UTC; the context's own timezone is UTC so that tests
/// show when the actor's timezone wins.
fn ctx() -> ParseContext {
    ParseContext {
        now: utc("2026-11-27T09:00:00Z"),
        timezone: chrono_tz::UTC,
        bot_username: Some("EaCrmBot".into()),
    }
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn say(engine: &Engine<FakeCrm>, from: &Sender, text: &str) -> Reply {
    block_on(engine.handle(from, text, &ctx())).unwrap_or_else(|| panic!("no reply to {text:?}"))
}

fn press(engine: &Engine<FakeCrm>, from: &Sender, button: &Button) -> Reply {
    match &button.action {
        ButtonAction::Run(commands) => block_on(engine.run(from, commands.clone(), &ctx())),
        ButtonAction::Cancel => panic!("pressed cancel"),
    }
}

#[test]
fn an_unlinked_account_is_only_told_how_to_link() {
    let engine = Engine::new(FakeCrm::new());
    let stranger = sender(None);
    for text in [
        "/lead Acme",
        "/due",
        "/nonsense",
        "log a call with Acme, interested",
    ] {
        let reply = say(&engine, &stranger, text);
        assert_eq!(
            reply.text,
            "Link your account first: /link CODE (get a code in the panel)."
        );
    }
    assert!(engine.crm().writes().is_empty());
}

#[test]
fn help_works_before_linking() {
    let engine = Engine::new(FakeCrm::new());
    let reply = say(&engine, &sender(None), "/help followup");
    assert!(
        reply.text.starts_with("/followup - Log a follow-up"),
        "{}",
        reply.text
    );
}

#[test]
fn link_hands_the_platform_account_and_code_to_the_crm() {
    let engine = Engine::new(FakeCrm::new());
    let reply = say(&engine, &sender(None), "/link GOOD-CODE");
    assert_eq!(
        reply.text,
        "Linked: this telegram account is now @maria. Send /help to see what I can do."
    );
    assert_eq!(
        engine.crm().state().links,
        vec![(
            Platform::Telegram,
            "4242".to_string(),
            "GOOD-CODE".to_string()
        )]
    );
    let reply = say(&engine, &sender(None), "/link BAD");
    assert_eq!(
        reply.text,
        "code: unknown or expired; get a new one in the panel"
    );
}

#[test]
fn a_linked_rep_creates_a_lead_and_the_crm_stores_every_field() {
    let engine = Engine::new(FakeCrm::new());
    let reply = say(
        &engine,
        &maria(),
        "/lead Initech initech.com country=US tags=smb,q1",
    );
    assert_eq!(
        reply.text,
        "Lead created: Initech (initech.com) · new · @maria · #l9\nTags: smb, q1"
    );
    let writes = engine.crm().writes();
    assert_eq!(writes.len(), 1);
    assert!(writes[0].contains("company: \"Initech\""), "{}", writes[0]);
    assert!(writes[0].contains("country: Some(\"US\")"), "{}", writes[0]);
}

#[test]
fn a_country_and_state_typed_as_names_reach_the_crm_as_typed() {
    // The CRM reads names into codes; the engine must hand them on whole,
    // quoted words included, and not take them for the company name.
    let engine = Engine::new(FakeCrm::new());
    let reply = say(
        &engine,
        &maria(),
        r#"/lead Initech initech.com country="United States" state=California"#,
    );
    assert!(
        reply.text.starts_with("Lead created: Initech"),
        "{}",
        reply.text
    );
    let writes = engine.crm().writes();
    assert_eq!(writes.len(), 1);
    assert!(writes[0].contains("company: \"Initech\""), "{}", writes[0]);
    assert!(
        writes[0].contains("country: Some(\"United States\")"),
        "{}",
        writes[0]
    );
    assert!(
        writes[0].contains("state: Some(\"California\")"),
        "{}",
        writes[0]
    );
}

#[test]
fn a_usage_error_is_the_reply_and_nothing_is_written() {
    let engine = Engine::new(FakeCrm::new());
    let reply = say(&engine, &maria(), "/followup acme.com 7 done");
    assert_eq!(
        reply.text,
        "/followup: tier must be 1, 2 or 3\nUsage: /followup <lead> <tier 1-3> <outcome> [when] [notes]"
    );
    assert!(engine.crm().writes().is_empty());
}

#[test]
fn an_ambiguous_name_asks_which_and_the_chosen_button_runs_with_its_id() {
    let engine = Engine::new(FakeCrm::new());
    let reply = say(&engine, &maria(), "/note Acme: sent the contract");
    assert_eq!(
        reply.text,
        "Which lead do you mean?\n1. Acme Corp (acme.com) · new · @maria · #l1\n2. Acme Ltd (acme.co.uk) · new · @maria · #l2"
    );
    let labels: Vec<&str> = reply.buttons.iter().map(|b| b.label.as_str()).collect();
    assert_eq!(
        labels,
        ["Acme Corp (acme.com)", "Acme Ltd (acme.co.uk)", "Cancel"]
    );
    assert!(engine.crm().writes().is_empty());

    let done = press(&engine, &maria(), &reply.buttons[1]);
    assert_eq!(done.text, "Note added to Acme Ltd.");
    assert_eq!(engine.crm().writes(), vec!["note l2 sent the contract"]);
}

#[test]
fn a_domain_resolves_to_one_lead_without_asking() {
    let engine = Engine::new(FakeCrm::new());
    let reply = say(&engine, &maria(), "/status https://www.acme.co.uk won");
    assert_eq!(reply.text, "Acme Ltd is now won.");
}

#[test]
fn refusals_become_short_sentences() {
    let engine = Engine::new(FakeCrm::new());
    let viewer = sender(Some(actor("viewer", chrono_tz::UTC)));
    assert_eq!(
        say(&engine, &viewer, "/status globex.com won").text,
        "You're not allowed to change leads."
    );
    assert_eq!(
        say(&engine, &maria(), "/show Hooli").text,
        "I couldn't find a lead matching \"Hooli\"."
    );
    assert_eq!(
        say(&engine, &maria(), "/status globex.com bogus").text,
        "status: must be one of new, qualified, won, lost"
    );
    assert_eq!(
        say(&engine, &maria(), "/assign globex.com @ghost").text,
        "I couldn't find a user @ghost."
    );
}

#[test]
fn a_mention_is_proposed_and_runs_only_when_confirmed() {
    let engine = Engine::new(FakeCrm::new());
    let reply = say(
        &engine,
        &maria(),
        "@EaCrmBot log a call with Globex, interested, follow up next Tuesday",
    );
    assert_eq!(
        reply.text,
        "I'll log a call with Globex: interested, and log follow-up 1 on Globex as pending for Tue 1 Dec 09:00. OK?\n(read by the local rules)"
    );
    assert_eq!(reply.buttons.len(), 2);
    assert_eq!(reply.buttons[1].action, ButtonAction::Cancel);
    assert!(engine.crm().writes().is_empty(), "nothing runs unconfirmed");

    let done = press(&engine, &maria(), &reply.buttons[0]);
    assert_eq!(
        done.text,
        "Call logged on Globex: interested\n\nFollow-up logged on Globex: 1. pending, Tue 1 Dec 09:00"
    );
    let writes = engine.crm().writes();
    assert_eq!(writes[0], "call l3 interested");
    // Tuesday 09:00 in Berlin, not in the context's UTC.
    assert!(writes[1].contains("2026-12-01T08:00:00Z"), "{}", writes[1]);
}

#[test]
fn one_choice_answers_an_ambiguous_proposal_for_every_command_in_it() {
    let engine = Engine::new(FakeCrm::new());
    let reply = say(
        &engine,
        &maria(),
        "called Acme, no answer, try again tomorrow",
    );
    let asked = press(&engine, &maria(), &reply.buttons[0]);
    assert!(
        asked.text.starts_with("Which lead do you mean?"),
        "{}",
        asked.text
    );
    let done = press(&engine, &maria(), &asked.buttons[0]);
    assert!(
        done.text.starts_with("Call logged on Acme Corp: no_answer"),
        "{}",
        done.text
    );
    let writes = engine.crm().writes();
    assert_eq!(writes.len(), 2);
    assert!(writes[1].starts_with("followup l1 "), "{}", writes[1]);
}

#[test]
fn chatter_gets_a_hint_and_questions_get_a_pointer() {
    let engine = Engine::new(FakeCrm::new());
    assert!(say(&engine, &maria(), "good morning")
        .text
        .starts_with("I didn't catch that."));
    assert!(say(&engine, &maria(), "is the demo on?")
        .text
        .starts_with("I can't answer that"));
    let due = say(&engine, &maria(), "what's due today?");
    assert_eq!(
        due.text,
        "Shall I show what's due today?\n(read by the local rules)"
    );
    assert_eq!(
        due.buttons[0].action,
        ButtonAction::Run(vec![Command::Due {
            window: DueWindow::Today
        }])
    );
}

#[test]
fn a_command_for_another_bot_and_empty_text_get_no_reply() {
    let engine = Engine::new(FakeCrm::new());
    assert_eq!(
        block_on(engine.handle(&maria(), "/due@OtherBot", &ctx())),
        None
    );
    assert_eq!(block_on(engine.handle(&maria(), "   ", &ctx())), None);
}

#[test]
fn reminders_are_read_and_shown_in_the_actors_timezone() {
    let engine = Engine::new(FakeCrm::new());
    let auckland = sender(Some(actor("kiri", chrono_tz::Pacific::Auckland)));
    // 09:00 UTC Friday is 22:00 Friday in Auckland; tomorrow 9am is Saturday there.
    let reply = say(&engine, &auckland, "/remind tomorrow 9am call Acme back");
    assert_eq!(
        reply.text,
        "I'll remind you Sat 28 Nov 09:00: call Acme back"
    );
    assert_eq!(
        engine.crm().state().reminders[0].at,
        utc("2026-11-27T20:00:00Z")
    );
}

#[test]
fn show_due_and_task_replies_read_well() {
    let engine = Engine::new(FakeCrm::new());
    let card = say(&engine, &maria(), "/show globex.com").text;
    assert!(
        card.starts_with("Globex (globex.com) · new · @maria · #l3\nSaaS · DE"),
        "{card}"
    );
    assert!(card.contains("• Jane Doe · CTO"), "{card}");
    assert!(card.contains("• 3. not yet"), "{card}");

    let due = say(&engine, &maria(), "/due").text;
    assert_eq!(
        due,
        "Due:\n1. Follow-up 2: Send case study · Acme Corp · Thu 26 Nov 08:00 (overdue)"
    );

    let task = say(
        &engine,
        &maria(),
        "/task Send deck @sam due monday priority=urgent lead=globex.com",
    )
    .text;
    assert_eq!(
        task,
        "Task created: Send deck [URGENT] · @sam · due Mon 30 Nov 09:00"
    );
    assert_eq!(
        engine.crm().writes(),
        vec!["task \"Send deck\" Some(\"l3\")"]
    );
    assert_eq!(say(&engine, &maria(), "/tasks").text, "No tasks.");
}

#[test]
fn contact_and_call_commands_reach_the_crm() {
    let engine = Engine::new(FakeCrm::new());
    assert_eq!(
        say(
            &engine,
            &maria(),
            "/contact globex.com \"Hank Scorpio\" position=CEO"
        )
        .text,
        "Contact added to Globex: Hank Scorpio"
    );
    assert_eq!(
        say(&engine, &maria(), "/call globex.com voicemail 2m").text,
        "Call logged on Globex: voicemail (2m)"
    );
    assert_eq!(
        say(&engine, &maria(), "/followup globex.com 1 no_answer").text,
        "Follow-up logged on Globex: 1. no_answer"
    );
}

#[test]
fn the_engine_future_is_send_so_adapters_can_spawn_it() {
    fn assert_send<T: Send>(_: &T) {}
    let engine = Engine::new(FakeCrm::new());
    let from = maria();
    let context = ctx();
    let future = engine.handle(&from, "/due", &context);
    assert_send(&future);
    let _ = block_on(future);
}

#[test]
fn a_command_after_a_mention_of_this_bot_is_still_a_command() {
    let engine = Engine::new(FakeCrm::new());
    assert_eq!(
        say(&engine, &maria(), "@EaCrmBot: /status globex.com won").text,
        "Globex is now won."
    );
}

#[test]
fn a_switched_off_part_leaves_help_and_its_commands_are_refused() {
    let engine = Engine::new(FakeCrm::new());
    engine.crm().state().off = PartsOff {
        chat: true,
        intent: true,
    };
    let help = say(&engine, &maria(), "/help");
    assert!(!help.text.contains("/remind"), "{}", help.text);
    assert!(help.text.contains("plain words"), "{}", help.text);
    assert!(help.text.contains("/followup - "), "{}", help.text);

    let refused = say(&engine, &maria(), "/remind tomorrow 9am call Acme back");
    assert_eq!(
        refused.text,
        "Chat is switched off by an admin. Send /help to see what I can do."
    );
    // Intent is the model's reading: while it is off the local rules read
    // plain words, and the model is not asked.
    engine.crm().state().model = Some(Intent::None);
    let plain = say(&engine, &maria(), "log a call with Globex, interested");
    assert_eq!(
        plain.text,
        "I'll log a call with Globex: interested. OK?\n(read by the local rules)"
    );
    assert!(engine.crm().state().asked.is_empty());
    assert!(engine.crm().writes().is_empty());
    assert!(engine.crm().state().reminders.is_empty());

    engine.crm().state().off = PartsOff::default();
    let help = say(&engine, &maria(), "/help");
    assert!(help.text.contains("/remind - "), "{}", help.text);
}

#[test]
fn the_models_reading_is_proposed_and_says_so() {
    let engine = Engine::new(FakeCrm::new());
    // The local rules see no request in this; the model does.
    engine.crm().state().model = Some(Intent::ChangeStatus {
        lead: LeadRef::Domain("globex.com".into()),
        status: "won".into(),
    });
    let reply = say(&engine, &maria(), "@EaCrmBot Globex signed, champagne!");
    assert_eq!(
        reply.text,
        "I'll set globex.com to won. OK?\n(read by the model)"
    );
    assert_eq!(
        engine.crm().state().asked,
        vec!["Globex signed, champagne!".to_string()],
        "the model reads the words without the bot's mention"
    );
    assert!(engine.crm().writes().is_empty(), "nothing runs unconfirmed");
    let done = press(&engine, &maria(), &reply.buttons[0]);
    assert_eq!(done.text, "Globex is now won.");
    assert_eq!(engine.crm().writes(), vec!["status l3 won".to_string()]);

    // The model's "nothing here" is an answer too, and said to be its own.
    engine.crm().state().model = Some(Intent::None);
    let chatter = say(&engine, &maria(), "mark Globex as lost");
    assert_eq!(chatter.buttons, vec![]);
    assert!(
        chatter.text.starts_with("I didn't catch that.")
            && chatter.text.ends_with("\n(read by the model)"),
        "{}",
        chatter.text
    );
}

#[test]
fn without_a_reading_from_the_model_the_local_rules_read_the_words() {
    let engine = Engine::new(FakeCrm::new());
    let reply = say(&engine, &maria(), "mark Globex as lost");
    assert_eq!(
        reply.text,
        "I'll set Globex to lost. OK?\n(read by the local rules)"
    );
    assert_eq!(engine.crm().state().asked.len(), 1, "the model was asked");
    // A bare mention has no words for the model.
    let bare = say(&engine, &maria(), "@EaCrmBot");
    assert!(
        bare.text.ends_with("(read by the local rules)"),
        "{}",
        bare.text
    );
    assert_eq!(engine.crm().state().asked.len(), 1);
}
