//! Intent detection: a chat or bot message becomes one intent with its
//! slots, for the bots' confirm flow. The same JSON shape comes from the
//! local rules (`bots::detect_intent`) and from the model; the model's is
//! checked against the schema and the slot rules below before it is used,
//! and either way it is only a proposal that a user must confirm.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use bots::command::{normalize_domain, FollowUpOutcome, LeadRef, Tier};
use bots::{Intent, ParseContext};

use crate::domain::crm::calls::CALL_OUTCOMES;

/// The intents, as the API and the model name them.
pub const KINDS: &[&str] = &[
    "create_lead",
    "log_follow_up",
    "create_task",
    "change_status",
    "log_call",
    "question",
    "none",
];

/// Slots an intent may carry; which are needed depends on the kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IntentSlots {
    pub company: Option<String>,
    pub website: Option<String>,
    /// How the message named the lead: an id, a domain or a company name.
    pub lead: Option<String>,
    pub tier: Option<u8>,
    pub outcome: Option<String>,
    pub when: Option<DateTime<Utc>>,
    pub title: Option<String>,
    pub assignee: Option<String>,
    pub status: Option<String>,
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntentView {
    pub kind: String,
    pub slots: IntentSlots,
}

fn lead_text(lead: &LeadRef) -> String {
    match lead {
        LeadRef::Id(id) => format!("#{id}"),
        LeadRef::Domain(d) => d.clone(),
        LeadRef::Name(n) => n.clone(),
    }
}

/// The local rules' answer in the shared shape.
pub fn from_rules(intent: &Intent) -> IntentView {
    let mut slots = IntentSlots::default();
    let kind = match intent {
        Intent::CreateLead { company, website } => {
            slots.company = Some(company.clone());
            slots.website = website.clone();
            "create_lead"
        }
        Intent::LogFollowUp {
            lead,
            tier,
            outcome,
            when,
        } => {
            slots.lead = Some(lead_text(lead));
            slots.tier = tier.map(|t| t.number());
            slots.outcome = Some(outcome.as_str().to_string());
            slots.when = *when;
            "log_follow_up"
        }
        Intent::CreateTask {
            title,
            assignee,
            due,
        } => {
            slots.title = Some(title.clone());
            slots.assignee = assignee.clone();
            slots.when = *due;
            "create_task"
        }
        Intent::ChangeStatus { lead, status } => {
            slots.lead = Some(lead_text(lead));
            slots.status = Some(status.clone());
            "change_status"
        }
        Intent::LogCall {
            lead,
            outcome,
            follow_up_at,
            notes,
        } => {
            slots.lead = Some(lead_text(lead));
            slots.outcome = Some(outcome.clone());
            slots.when = *follow_up_at;
            slots.text = Some(notes.clone());
            "log_call"
        }
        Intent::Question { text, .. } => {
            slots.text = Some(text.clone());
            "question"
        }
        Intent::None => "none",
    };
    IntentView {
        kind: kind.to_string(),
        slots,
    }
}

/// The schema the model must answer under. Every slot is present and
/// nullable, as strict structured-output modes require.
pub fn schema() -> Value {
    let text = |max: u64| json!({"type": ["string", "null"], "maxLength": max});
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["kind", "slots"],
        "properties": {
            "kind": {"type": "string", "enum": KINDS},
            "slots": {
                "type": "object",
                "additionalProperties": false,
                "required": ["company", "website", "lead", "tier", "outcome", "when", "title", "assignee", "status", "text"],
                "properties": {
                    "company": text(200), "website": text(300), "lead": text(200),
                    "tier": {"type": ["integer", "null"], "minimum": 1, "maximum": 3},
                    "outcome": {"type": ["string", "null"], "enum": [null, "pending", "done", "no_answer", "replied", "skipped", "connected", "voicemail", "busy", "wrong_number", "interested", "not_interested", "callback"]},
                    "when": text(40), "title": text(300), "assignee": text(100),
                    "status": text(60), "text": text(1000),
                },
            },
        },
    })
}

fn slot(value: &Value, name: &str) -> Option<String> {
    value["slots"][name]
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Reads a schema-valid model answer, enforcing what the schema cannot say:
/// each kind's required slots and a parseable date.
pub fn from_model(value: &Value) -> Result<IntentView, String> {
    let kind = value["kind"].as_str().unwrap_or("none").to_string();
    let when = match slot(value, "when") {
        Some(raw) => Some(
            DateTime::parse_from_rfc3339(&raw)
                .map_err(|_| "slots.when: not an RFC 3339 date".to_string())?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    let slots = IntentSlots {
        company: slot(value, "company"),
        website: slot(value, "website"),
        lead: slot(value, "lead"),
        tier: value["slots"]["tier"].as_u64().map(|t| t as u8),
        outcome: slot(value, "outcome"),
        when,
        title: slot(value, "title"),
        assignee: slot(value, "assignee"),
        status: slot(value, "status"),
        text: slot(value, "text"),
    };
    let needed: &[(&str, bool)] = match kind.as_str() {
        "create_lead" => &[("company", slots.company.is_some())],
        "log_follow_up" => &[("lead", slots.lead.is_some())],
        "create_task" => &[("title", slots.title.is_some())],
        "change_status" => &[
            ("lead", slots.lead.is_some()),
            ("status", slots.status.is_some()),
        ],
        "log_call" => &[("lead", slots.lead.is_some())],
        _ => &[],
    };
    if let Some((name, _)) = needed.iter().find(|(_, present)| !present) {
        return Err(format!("slots.{name}: required for {kind}"));
    }
    Ok(IntentView { kind, slots })
}

/// `closed lost` → `closed_lost`, as the local rules and the CRM spell words.
fn word(raw: &str) -> String {
    raw.trim()
        .to_lowercase()
        .split(|c: char| c.is_whitespace() || c == '-')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

/// A model's reading as the bots' [`Intent`], so a bot proposes it exactly
/// as it proposes the local rules' reading (the inverse of [`from_rules`]).
/// `text` is the message the model read: a call's notes are the rep's own
/// words, as with the rules, and a question gets the read-only command the
/// rules suggest for it. A slot that does not fit its kind (a follow-up
/// with a call's outcome, a tier beyond 3) refuses the whole reading, and
/// the bots then use the local rules.
pub fn to_rules(view: &IntentView, text: &str, ctx: &ParseContext) -> Result<Intent, String> {
    let s = &view.slots;
    let needed = |value: &Option<String>, name: &str| {
        value
            .clone()
            .ok_or_else(|| format!("slots.{name}: required for {}", view.kind))
    };
    let lead = || needed(&s.lead, "lead").map(|l| LeadRef::from_text(l.trim_start_matches('@')));
    Ok(match view.kind.as_str() {
        "create_lead" => Intent::CreateLead {
            company: needed(&s.company, "company")?,
            website: s.website.as_deref().and_then(normalize_domain),
        },
        "log_follow_up" => Intent::LogFollowUp {
            lead: lead()?,
            tier: match s.tier {
                None => None,
                Some(n) => Some(
                    Tier::from_number(&n.to_string())
                        .ok_or_else(|| format!("slots.tier: {n} is not 1, 2 or 3"))?,
                ),
            },
            outcome: match &s.outcome {
                None => FollowUpOutcome::Pending,
                Some(o) => FollowUpOutcome::from_word(o)
                    .ok_or_else(|| format!("slots.outcome: {o} is not a follow-up's outcome"))?,
            },
            when: s.when,
        },
        "create_task" => Intent::CreateTask {
            title: needed(&s.title, "title")?,
            assignee: s
                .assignee
                .as_deref()
                .map(|a| a.trim().trim_start_matches('@'))
                .filter(|a| !a.is_empty() && !matches!(word(a).as_str(), "me" | "myself" | "i"))
                .map(str::to_string),
            due: s.when,
        },
        "change_status" => Intent::ChangeStatus {
            lead: lead()?,
            status: word(&needed(&s.status, "status")?),
        },
        "log_call" => Intent::LogCall {
            lead: lead()?,
            outcome: match &s.outcome {
                None => "connected".to_string(),
                Some(o) if CALL_OUTCOMES.contains(&word(o).as_str()) => word(o),
                Some(o) => return Err(format!("slots.outcome: {o} is not a call's outcome")),
            },
            follow_up_at: s.when,
            notes: text.to_string(),
        },
        "question" => Intent::Question {
            text: text.to_string(),
            suggestion: bots::intent::question_suggestion(text, ctx),
        },
        "none" => Intent::None,
        other => return Err(format!("kind: {other} is not an intent")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ai::schema::validate;
    use chrono::TimeZone;

    fn answer(kind: &str, slots: Value) -> Value {
        let mut all = json!({"company": null, "website": null, "lead": null, "tier": null, "outcome": null,
                             "when": null, "title": null, "assignee": null, "status": null, "text": null});
        if let (Some(all), Some(given)) = (all.as_object_mut(), slots.as_object()) {
            all.extend(given.clone());
        }
        json!({"kind": kind, "slots": all})
    }

    #[test]
    fn a_model_answer_with_its_required_slots_is_read() {
        let v = answer(
            "change_status",
            json!({"lead": "acme.com", "status": "won"}),
        );
        assert_eq!(validate(&schema(), &v), Ok(()));
        let view = from_model(&v).unwrap();
        assert_eq!(view.kind, "change_status");
        assert_eq!(view.slots.status.as_deref(), Some("won"));
    }

    #[test]
    fn a_model_answer_missing_a_required_slot_or_with_a_bad_date_is_refused() {
        assert!(from_model(&answer("create_lead", json!({}))).is_err());
        assert!(from_model(&answer(
            "create_task",
            json!({"title": "x", "when": "tomorrow"})
        ))
        .is_err());
    }

    fn ctx() -> bots::ParseContext {
        bots::ParseContext {
            now: DateTime::parse_from_rfc3339("2026-11-27T09:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            timezone: chrono_tz::Europe::Berlin,
            bot_username: Some("EaCrmBot".into()),
        }
    }

    fn read(kind: &str, slots: Value, text: &str) -> Result<Intent, String> {
        let v = answer(kind, slots);
        assert_eq!(validate(&schema(), &v), Ok(()), "{v}");
        to_rules(&from_model(&v)?, text, &ctx())
    }

    #[test]
    fn the_local_rules_reading_survives_the_shared_shape_and_back() {
        for text in [
            "new lead Acme Corp acme.com",
            "mark Acme Corp as closed lost",
            "move initech.com to won",
            "second follow-up with Hooli done",
            "follow up with Stark Industries next monday",
            "remind @maria to update the deck by friday",
            "todo: prepare Q1 pricing sheet",
            "called Globex, voicemail, try again tomorrow",
            "what's due this week?",
            "who owns Acme?",
            "good morning team",
        ] {
            let rules = bots::detect_intent(text, &ctx());
            let back = to_rules(&from_rules(&rules), text, &ctx());
            assert_eq!(back, Ok(rules), "{text}");
        }
    }

    #[test]
    fn a_model_reading_becomes_the_bots_intent() {
        assert_eq!(
            read(
                "change_status",
                json!({"lead": "Hooli", "status": "Closed Won"}),
                "we closed the Hooli deal"
            ),
            Ok(Intent::ChangeStatus {
                lead: LeadRef::Name("Hooli".into()),
                status: "closed_won".into()
            })
        );
        assert_eq!(
            read(
                "log_call",
                json!({"lead": "https://www.globex.com/", "outcome": "not_interested", "when": "2026-12-01T08:00:00Z"}),
                "rang globex, nope, try again tuesday"
            ),
            Ok(Intent::LogCall {
                lead: LeadRef::Domain("globex.com".into()),
                outcome: "not_interested".into(),
                follow_up_at: Some(Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap()),
                notes: "rang globex, nope, try again tuesday".into(),
            })
        );
        assert_eq!(
            read(
                "create_task",
                json!({"title": "send the deck", "assignee": "me"}),
                "I need to send the deck"
            ),
            Ok(Intent::CreateTask {
                title: "send the deck".into(),
                assignee: None,
                due: None
            })
        );
        assert_eq!(
            read(
                "create_lead",
                json!({"company": "Umbrella", "website": "not a site"}),
                "x"
            ),
            Ok(Intent::CreateLead {
                company: "Umbrella".into(),
                website: None
            })
        );
        assert_eq!(
            read(
                "question",
                json!({"text": "whatever"}),
                "anything due this week?"
            ),
            Ok(Intent::Question {
                text: "anything due this week?".into(),
                suggestion: Some(bots::Command::Due {
                    window: bots::DueWindow::Week
                })
            })
        );
        assert_eq!(read("none", json!({}), "hi"), Ok(Intent::None));
    }

    #[test]
    fn slots_that_do_not_fit_their_kind_refuse_the_reading() {
        assert!(read(
            "log_follow_up",
            json!({"lead": "Acme", "outcome": "interested"}),
            "x"
        )
        .is_err());
        assert!(read(
            "log_call",
            json!({"lead": "Acme", "outcome": "replied"}),
            "x"
        )
        .is_err());
        let view = IntentView {
            kind: "drop_tables".into(),
            slots: IntentSlots::default(),
        };
        assert!(to_rules(&view, "x", &ctx()).is_err());
    }

    #[test]
    fn the_local_rules_answer_in_the_same_shape() {
        let ctx = bots::ParseContext {
            now: Utc::now(),
            timezone: chrono_tz::UTC,
            bot_username: None,
        };
        let view = from_rules(&bots::detect_intent("new lead Acme Corp acme.com", &ctx));
        assert_eq!(view.kind, "create_lead");
        assert!(view.slots.company.is_some());
    }
}
