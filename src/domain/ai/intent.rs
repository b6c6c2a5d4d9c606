//! Intent detection: a chat or bot message becomes one intent with its
//! slots, for the bots' confirm flow. The same JSON shape comes from the
//! local rules (`bots::detect_intent`) and from the model; the model's is
//! checked against the schema and the slot rules below before it is used,
//! and either way it is only a proposal that a user must confirm.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use bots::command::LeadRef;
use bots::Intent;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ai::schema::validate;

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
