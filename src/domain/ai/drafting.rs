//! Drafted messages: a follow-up email or chat message for a lead from its
//! history and the rep's tone. The local provider fills templates; the
//! remote one writes freely under a schema. A draft is text for the rep to
//! edit and send; nothing is sent from here.

use serde::Serialize;
use serde_json::{json, Value};

use crate::domain::error::{DomainError, DomainResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DraftChannel {
    Email,
    Chat,
}

impl DraftChannel {
    pub fn parse(raw: &str) -> DomainResult<Self> {
        match raw.trim().to_lowercase().as_str() {
            "email" | "" => Ok(Self::Email),
            "chat" | "message" => Ok(Self::Chat),
            _ => Err(DomainError::invalid("channel", "use email or chat")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Chat => "chat message",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tone {
    Formal,
    Friendly,
    Brief,
}

impl Tone {
    pub fn parse(raw: &str) -> DomainResult<Self> {
        match raw.trim().to_lowercase().as_str() {
            "formal" => Ok(Self::Formal),
            "friendly" | "" => Ok(Self::Friendly),
            "brief" | "short" => Ok(Self::Brief),
            _ => Err(DomainError::invalid(
                "tone",
                "use formal, friendly or brief",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Formal => "formal",
            Self::Friendly => "friendly",
            Self::Brief => "brief",
        }
    }
}

/// What a draft is written from; also what the model is shown.
#[derive(Debug, Clone, Serialize)]
pub struct DraftInput {
    pub company: String,
    pub contact_name: Option<String>,
    pub rep_name: String,
    pub channel: DraftChannel,
    pub tone: Tone,
    pub status: String,
    /// The latest touch (a call or follow-up outcome), newest first.
    pub history: Vec<HistoryLine>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryLine {
    pub kind: String,
    pub outcome: String,
    pub days_ago: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Draft {
    pub subject: Option<String>,
    pub body: String,
}

pub fn schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["subject", "body"],
        "properties": {
            "subject": {"type": ["string", "null"], "maxLength": 150},
            "body": {"type": "string", "maxLength": 4000},
        },
    })
}

pub fn from_model(value: &Value, channel: DraftChannel) -> Result<Draft, String> {
    let body = value["body"].as_str().map(str::trim).unwrap_or_default();
    if body.is_empty() {
        return Err("body: empty".into());
    }
    let subject = match channel {
        DraftChannel::Email => value["subject"]
            .as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        DraftChannel::Chat => None,
    };
    Ok(Draft {
        subject,
        body: body.to_string(),
    })
}

/// The offline draft: a template chosen by the last touch, in the tone.
pub fn local_draft(input: &DraftInput) -> Draft {
    let name = input.contact_name.as_deref().unwrap_or("there");
    let greeting = match input.tone {
        Tone::Formal => format!("Dear {name},"),
        Tone::Friendly => format!("Hi {name},"),
        Tone::Brief => format!("{name},"),
    };
    let last = input.history.first();
    let opener = match last.map(|h| (h.kind.as_str(), h.outcome.as_str(), h.days_ago)) {
        None => format!(
            "I'm reaching out to introduce how we help teams like {}.",
            input.company
        ),
        Some((_, "no_answer" | "busy" | "voicemail", _)) => {
            "I tried to reach you recently but we didn't manage to connect.".to_string()
        }
        Some((_, "replied" | "answered" | "done", 0)) => {
            "Thank you for your time today.".to_string()
        }
        Some((_, "replied" | "answered" | "done", days)) => {
            format!("Following up on our conversation {days} day(s) ago.")
        }
        Some((_, _, days)) => format!("Following up on my note from {days} day(s) ago."),
    };
    let ask = match input.tone {
        Tone::Formal => "Would you be available for a short call this week to discuss next steps?",
        Tone::Friendly => "Would a quick call this week work for you?",
        Tone::Brief => "Quick call this week?",
    };
    let sign = match input.tone {
        Tone::Formal => format!("Kind regards,\n{}", input.rep_name),
        Tone::Friendly => format!("Best,\n{}", input.rep_name),
        Tone::Brief => input.rep_name.clone(),
    };
    match input.channel {
        DraftChannel::Email => Draft {
            subject: Some(format!("{} — next steps", input.company)),
            body: format!("{greeting}\n\n{opener} {ask}\n\n{sign}"),
        },
        DraftChannel::Chat => Draft {
            subject: None,
            body: format!("{greeting} {opener} {ask}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(history: Vec<HistoryLine>, tone: Tone) -> DraftInput {
        DraftInput {
            company: "Acme".into(),
            contact_name: Some("Ana".into()),
            rep_name: "Maria".into(),
            channel: DraftChannel::Email,
            tone,
            status: "contacted".into(),
            history,
        }
    }

    #[test]
    fn a_missed_call_gets_a_we_did_not_connect_email_in_the_chosen_tone() {
        let d = local_draft(&input(
            vec![HistoryLine {
                kind: "call".into(),
                outcome: "no_answer".into(),
                days_ago: 2,
            }],
            Tone::Formal,
        ));
        assert!(d.body.starts_with("Dear Ana,"));
        assert!(d.body.contains("didn't manage to connect"));
        assert!(d.body.ends_with("Maria"));
        assert_eq!(d.subject.as_deref(), Some("Acme — next steps"));
    }

    #[test]
    fn a_lead_never_touched_gets_an_introduction() {
        let d = local_draft(&input(vec![], Tone::Brief));
        assert!(d.body.contains("introduce"));
    }
}
