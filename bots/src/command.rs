//! What a parsed command says, as plain data.
//!
//! Promises: a `Command` is already checked for shape (tiers are 1–3, outcomes and
//! priorities are known words, dates are instants, domains are bare and lower-case),
//! so the engine and the CRM never re-parse text. Whether a lead, user or status
//! exists is for the CRM to say. Commands are `Serialize`/`Deserialize` so that an
//! adapter can park one behind a confirm button.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::CommandName;

/// How a message names a lead; the CRM resolves it and may answer `Ambiguous`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeadRef {
    /// `#abc123` or `id=abc123`.
    Id(String),
    /// Anything that looks like a domain or URL, as the bare lower-case domain
    /// (`https://www.Acme.com/about` → `acme.com`).
    Domain(String),
    /// Everything else: a company name as typed.
    Name(String),
}

impl LeadRef {
    /// Reads one argument as a lead reference: `#id`, a domain or URL, or a name.
    pub fn from_text(text: &str) -> LeadRef {
        let text = text.trim();
        if let Some(id) = text.strip_prefix('#').filter(|id| is_id(id)) {
            return LeadRef::Id(id.to_string());
        }
        match normalize_domain(text) {
            Some(domain) => LeadRef::Domain(domain),
            None => LeadRef::Name(text.to_string()),
        }
    }
}

impl fmt::Display for LeadRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeadRef::Id(id) => write!(f, "#{id}"),
            LeadRef::Domain(d) => f.write_str(d),
            LeadRef::Name(n) => f.write_str(n),
        }
    }
}

/// Record ids as the CRM hands them out: letters, digits, `_`, `-`, `:`.
pub(crate) fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == ':')
}

/// The bare lower-case domain of `text` if it looks like a domain or URL:
/// optional scheme, optional `www.`, labels of letters/digits/hyphens, a final
/// label of at least two letters; port, path, query and fragment are dropped.
pub fn normalize_domain(text: &str) -> Option<String> {
    let lower = text.trim().to_lowercase();
    if lower.contains('@') || lower.chars().any(char::is_whitespace) {
        return None;
    }
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .unwrap_or(&lower);
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.split(':').next().unwrap_or_default();
    let host = host.strip_prefix("www.").unwrap_or(host);
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2 || host.len() > 253 {
        return None;
    }
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    let tld = labels.last().copied().unwrap_or_default();
    let tld_ok = tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic);
    (labels.iter().all(label_ok) && tld_ok).then(|| host.to_string())
}

/// Follow-up tier: the first, second or third touch after first contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Tier {
    First,
    Second,
    Third,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::First, Tier::Second, Tier::Third];

    pub fn from_number(n: &str) -> Option<Tier> {
        match n.trim() {
            "1" => Some(Tier::First),
            "2" => Some(Tier::Second),
            "3" => Some(Tier::Third),
            _ => None,
        }
    }

    pub fn number(self) -> u8 {
        match self {
            Tier::First => 1,
            Tier::Second => 2,
            Tier::Third => 3,
        }
    }
}

/// Outcome of a follow-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FollowUpOutcome {
    Pending,
    Done,
    NoAnswer,
    Replied,
    Skipped,
}

impl FollowUpOutcome {
    pub const WORDS: &'static str = "pending, done, no_answer, replied or skipped";

    pub fn from_word(word: &str) -> Option<Self> {
        Some(
            match word.trim().to_lowercase().replace('-', "_").as_str() {
                "pending" => Self::Pending,
                "done" => Self::Done,
                "no_answer" | "noanswer" => Self::NoAnswer,
                "replied" => Self::Replied,
                "skipped" | "skip" => Self::Skipped,
                _ => return None,
            },
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Done => "done",
            Self::NoAnswer => "no_answer",
            Self::Replied => "replied",
            Self::Skipped => "skipped",
        }
    }
}

/// Task priority.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub fn from_word(word: &str) -> Option<Self> {
        Some(match word.trim().to_lowercase().as_str() {
            "low" => Self::Low,
            "normal" | "medium" => Self::Normal,
            "high" => Self::High,
            "urgent" => Self::Urgent,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
            Self::Urgent => "urgent",
        }
    }
}

/// Which tasks `/tasks` lists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskStatusFilter {
    #[default]
    Open,
    Done,
    All,
}

/// Which window `/due` covers. `Today` includes anything overdue: that is what a rep
/// needs to do today.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DueWindow {
    #[default]
    Today,
    Overdue,
    Week,
}

/// Input for creating a lead.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewLead {
    pub company: String,
    /// Bare lower-case domain.
    pub website: Option<String>,
    pub industry: Option<String>,
    pub country: Option<String>,
    pub state: Option<String>,
    /// Username without `@`; `None` means the actor.
    pub owner: Option<String>,
    pub tags: Vec<String>,
    pub source: Option<String>,
    /// Create it even when it looks like a lead already stored (the
    /// "create anyway" button).
    #[serde(default)]
    pub allow_duplicate: bool,
}

/// Input for logging a follow-up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewFollowUp {
    pub tier: Tier,
    pub outcome: FollowUpOutcome,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub notes: Option<String>,
}

/// Input for adding a contact.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewContact {
    pub name: String,
    pub position: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub linkedin: Option<String>,
}

/// Input for logging a call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCall {
    /// Lower-case, words joined by `_` (`not interested` → `not_interested`); the CRM
    /// decides which outcomes it knows.
    pub outcome: String,
    pub duration_secs: Option<u32>,
    pub notes: Option<String>,
}

/// A parsed command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    Lead(NewLead),
    Find {
        query: String,
    },
    Show {
        lead: LeadRef,
    },
    Status {
        lead: LeadRef,
        status: String,
    },
    FollowUp {
        lead: LeadRef,
        follow_up: NewFollowUp,
    },
    Contact {
        lead: LeadRef,
        contact: NewContact,
    },
    Note {
        lead: LeadRef,
        text: String,
    },
    Call {
        lead: LeadRef,
        call: NewCall,
    },
    Task {
        title: String,
        assignee: Option<String>,
        due: Option<DateTime<Utc>>,
        priority: Priority,
        lead: Option<LeadRef>,
    },
    Tasks {
        assignee: Option<String>,
        status: TaskStatusFilter,
    },
    Due {
        window: DueWindow,
    },
    Assign {
        lead: LeadRef,
        user: String,
    },
    Remind {
        at: DateTime<Utc>,
        text: String,
    },
    Link {
        code: String,
    },
    Help {
        command: Option<CommandName>,
    },
}

impl Command {
    pub fn name(&self) -> CommandName {
        match self {
            Command::Lead(_) => CommandName::Lead,
            Command::Find { .. } => CommandName::Find,
            Command::Show { .. } => CommandName::Show,
            Command::Status { .. } => CommandName::Status,
            Command::FollowUp { .. } => CommandName::FollowUp,
            Command::Contact { .. } => CommandName::Contact,
            Command::Note { .. } => CommandName::Note,
            Command::Call { .. } => CommandName::Call,
            Command::Task { .. } => CommandName::Task,
            Command::Tasks { .. } => CommandName::Tasks,
            Command::Due { .. } => CommandName::Due,
            Command::Assign { .. } => CommandName::Assign,
            Command::Remind { .. } => CommandName::Remind,
            Command::Link { .. } => CommandName::Link,
            Command::Help { .. } => CommandName::Help,
        }
    }

    /// The lead this command is about, if any; the engine replaces it with an
    /// `Id` once the user has picked among ambiguous candidates.
    pub fn lead_mut(&mut self) -> Option<&mut LeadRef> {
        match self {
            Command::Show { lead }
            | Command::Status { lead, .. }
            | Command::FollowUp { lead, .. }
            | Command::Contact { lead, .. }
            | Command::Note { lead, .. }
            | Command::Call { lead, .. }
            | Command::Assign { lead, .. } => Some(lead),
            Command::Task { lead, .. } => lead.as_mut(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_domains_become_the_bare_lower_case_domain() {
        for (text, domain) in [
            ("acme.com", "acme.com"),
            ("Acme.COM", "acme.com"),
            ("https://www.acme.com/about?x=1", "acme.com"),
            ("http://shop.acme.co.uk:8080", "shop.acme.co.uk"),
            ("www.müller.de", "müller.de"),
        ] {
            assert_eq!(
                LeadRef::from_text(text),
                LeadRef::Domain(domain.into()),
                "{text}"
            );
        }
    }

    #[test]
    fn names_emails_and_numbers_are_not_domains() {
        for text in [
            "Acme Corp",
            "Inc.",
            "jane@acme.com",
            "3.14",
            "e.g.",
            "acme",
            "a.b-",
        ] {
            assert_eq!(
                LeadRef::from_text(text),
                LeadRef::Name(text.into()),
                "{text}"
            );
        }
    }

    #[test]
    fn a_hash_prefix_makes_an_id() {
        assert_eq!(LeadRef::from_text("#abc123"), LeadRef::Id("abc123".into()));
        assert_eq!(LeadRef::from_text("#1 fan"), LeadRef::Name("#1 fan".into()));
    }

    #[test]
    fn outcomes_accept_hyphens_and_case() {
        assert_eq!(
            FollowUpOutcome::from_word("No-Answer"),
            Some(FollowUpOutcome::NoAnswer)
        );
        assert_eq!(FollowUpOutcome::from_word("maybe"), None);
    }
}
