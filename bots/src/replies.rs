//! The words of every reply: lead cards, lists, confirmations, errors.
//!
//! Promises: replies are plain text laid out with line breaks and `•` bullets, no
//! markup. Telegram's Markdown modes reject a message whose `_` or `*` are
//! unbalanced — and user data (`no_answer`, `jane_doe`) is full of them — while
//! plain text reads the same in Telegram, Discord and the web chat. Times are shown
//! on the reader's wall clock.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::command::{NewLead, Priority};
use crate::crm::{
    Contact, CrmError, DueItem, DueKind, LeadCard, LeadSummary, Reminder, TaskState, TaskSummary,
    TierState,
};
use crate::intent::ReadBy;

/// The only thing an unlinked account is told.
pub const LINK_PROMPT: &str = "Link your account first: /link CODE (get a code in the panel).";

/// Longest list a reply shows before saying how many more there are; chat
/// messages have length limits (Telegram 4096, Discord 2000 characters).
pub const MAX_LIST: usize = 15;

/// `Tue 1 Dec 09:00` in `tz`.
pub fn when(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format("%a %-d %b %H:%M").to_string()
}

/// `Acme Corp (acme.com) · qualified · @maria · #abc123`
pub fn lead_line(lead: &LeadSummary) -> String {
    let mut line = lead.name.clone();
    if let Some(domain) = &lead.domain {
        line.push_str(&format!(" ({domain})"));
    }
    line.push_str(&format!(" · {}", lead.status));
    if let Some(owner) = &lead.owner {
        line.push_str(&format!(" · @{owner}"));
    }
    line.push_str(&format!(" · #{}", lead.id));
    line
}

pub fn lead_created(lead: &LeadSummary, input: &NewLead) -> String {
    let mut text = format!("Lead created: {}", lead_line(lead));
    if !input.tags.is_empty() {
        text.push_str(&format!("\nTags: {}", input.tags.join(", ")));
    }
    text
}

pub fn lead_list(query: &str, leads: &[LeadSummary]) -> String {
    if leads.is_empty() {
        return format!("No leads match \"{query}\".");
    }
    let mut text = format!("Leads matching \"{query}\":");
    push_numbered(&mut text, leads.iter().map(lead_line), leads.len());
    text
}

fn push_numbered(text: &mut String, lines: impl Iterator<Item = String>, total: usize) {
    for (i, line) in lines.take(MAX_LIST).enumerate() {
        text.push_str(&format!("\n{}. {line}", i + 1));
    }
    if total > MAX_LIST {
        text.push_str(&format!("\n… and {} more", total - MAX_LIST));
    }
}

fn contact_line(c: &Contact) -> String {
    let mut parts = vec![c.name.clone()];
    parts.extend(c.position.clone());
    parts.extend(c.email.clone());
    parts.extend(c.phone.clone());
    parts.extend(c.linkedin.clone());
    parts.join(" · ")
}

fn tier_line(t: &TierState, tz: Tz) -> String {
    let mut line = format!("{}.", t.tier.number());
    match t.outcome {
        Some(o) => line.push_str(&format!(" {}", o.as_str())),
        None => line.push_str(" not yet"),
    }
    if let Some(at) = t.scheduled_at {
        line.push_str(&format!(", {}", when(at, tz)));
    }
    if let Some(notes) = &t.notes {
        line.push_str(&format!(" — {notes}"));
    }
    line
}

/// The `/show` card.
pub fn lead_card(card: &LeadCard, tz: Tz) -> String {
    let mut text = lead_line(&card.lead);
    let facts: Vec<String> = [
        card.industry.clone(),
        card.country.clone(),
        card.state.clone(),
        card.source.as_ref().map(|s| format!("source: {s}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !facts.is_empty() {
        text.push_str(&format!("\n{}", facts.join(" · ")));
    }
    if !card.tags.is_empty() {
        text.push_str(&format!("\nTags: {}", card.tags.join(", ")));
    }
    text.push_str("\n\nContacts:");
    if card.contacts.is_empty() {
        text.push_str(" none yet");
    }
    for c in card.contacts.iter().take(MAX_LIST) {
        text.push_str(&format!("\n• {}", contact_line(c)));
    }
    text.push_str("\n\nFollow-ups:");
    for t in &card.tiers {
        text.push_str(&format!("\n• {}", tier_line(t, tz)));
    }
    if !card.open_tasks.is_empty() {
        text.push_str("\n\nOpen tasks:");
        for t in card.open_tasks.iter().take(MAX_LIST) {
            text.push_str(&format!("\n• {}", task_line(t, tz)));
        }
    }
    if !card.recent_notes.is_empty() {
        text.push_str("\n\nNotes:");
        for n in card.recent_notes.iter().take(5) {
            text.push_str(&format!("\n• {n}"));
        }
    }
    text
}

fn priority_mark(p: Priority) -> &'static str {
    match p {
        Priority::Low | Priority::Normal => "",
        Priority::High => " [high]",
        Priority::Urgent => " [URGENT]",
    }
}

pub fn task_line(t: &TaskSummary, tz: Tz) -> String {
    let mut line = String::new();
    if t.state == TaskState::Done {
        line.push_str("done: ");
    }
    line.push_str(&t.title);
    line.push_str(priority_mark(t.priority));
    if let Some(a) = &t.assignee {
        line.push_str(&format!(" · @{a}"));
    }
    if let Some(due) = t.due {
        line.push_str(&format!(" · due {}", when(due, tz)));
    }
    if let Some(lead) = &t.lead_name {
        line.push_str(&format!(" · {lead}"));
    }
    line
}

pub fn task_created(t: &TaskSummary, tz: Tz) -> String {
    format!("Task created: {}", task_line(t, tz))
}

pub fn task_list(tasks: &[TaskSummary], tz: Tz) -> String {
    if tasks.is_empty() {
        return "No tasks.".into();
    }
    let mut text = String::from("Tasks:");
    push_numbered(
        &mut text,
        tasks.iter().map(|t| task_line(t, tz)),
        tasks.len(),
    );
    text
}

pub fn due_list(items: &[DueItem], now: DateTime<Utc>, tz: Tz) -> String {
    if items.is_empty() {
        return "Nothing due. Nice.".into();
    }
    let lines = items.iter().map(|item| {
        let what = match &item.kind {
            DueKind::FollowUp { tier } => format!("Follow-up {}", tier.number()),
            DueKind::Task { priority } => format!("Task{}", priority_mark(*priority)),
        };
        let overdue = if item.due < now { " (overdue)" } else { "" };
        let lead = item
            .lead_name
            .as_ref()
            .map(|l| format!(" · {l}"))
            .unwrap_or_default();
        format!(
            "{what}: {}{lead} · {}{overdue}",
            item.title,
            when(item.due, tz)
        )
    });
    let mut text = String::from("Due:");
    push_numbered(&mut text, lines, items.len());
    text
}

pub fn follow_up_logged(lead: &LeadSummary, t: &TierState, tz: Tz) -> String {
    format!("Follow-up logged on {}: {}", lead.name, tier_line(t, tz))
}

pub fn reminder_set(r: &Reminder, tz: Tz) -> String {
    format!("I'll remind you {}: {}", when(r.at, tz), r.text)
}

pub fn call_logged(lead: &LeadSummary, outcome: &str, duration_secs: Option<u32>) -> String {
    let mut text = format!("Call logged on {}: {outcome}", lead.name);
    if let Some(secs) = duration_secs {
        text.push_str(&format!(" ({})", duration(secs)));
    }
    text
}

/// `1h 30m`, `5m`, `90s` → `1m 30s`.
pub fn duration(secs: u32) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let parts: Vec<String> = [(h, "h"), (m, "m"), (s, "s")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if parts.is_empty() {
        "0s".into()
    } else {
        parts.join(" ")
    }
}

pub fn ambiguous(candidates: &[LeadSummary]) -> String {
    let mut text = String::from("Which lead do you mean?");
    push_numbered(
        &mut text,
        candidates.iter().map(lead_line),
        candidates.len(),
    );
    text
}

/// The question when a new lead looks like stored ones.
pub fn duplicate(candidates: &[LeadSummary]) -> String {
    let mut text = String::from("This lead may already exist:");
    push_numbered(
        &mut text,
        candidates.iter().map(lead_line),
        candidates.len(),
    );
    text.push_str("\nOpen one of them, or create the new lead anyway.");
    text
}

/// A plain-words reply with a last line saying who read the words.
pub fn read_by(text: &str, by: ReadBy) -> String {
    format!("{text}\n{}", by.note())
}

/// The answer when a part the message needs is switched off.
pub fn switched_off(name: &str) -> String {
    format!("{name} is switched off by an admin. Send /help to see what I can do.")
}

/// A CRM refusal as a short sentence; internal detail stays with the CRM's logs.
pub fn crm_error(e: &CrmError) -> String {
    match e {
        CrmError::Forbidden(what) => format!("You're not allowed to {what}."),
        CrmError::NotFound(what) => format!("I couldn't find {what}."),
        CrmError::Invalid { field, reason } => format!("{field}: {reason}"),
        CrmError::Ambiguous(candidates) => ambiguous(candidates),
        CrmError::Duplicate(candidates) => duplicate(candidates),
        CrmError::Unlinked => LINK_PROMPT.into(),
        CrmError::SwitchedOff(name) => switched_off(name),
        CrmError::Other(text) => format!("Sorry, that didn't work: {text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{FollowUpOutcome, Tier};
    use chrono::TimeZone;
    use chrono_tz::Europe::Berlin;

    fn acme() -> LeadSummary {
        LeadSummary {
            id: "l1".into(),
            name: "Acme Corp".into(),
            domain: Some("acme.com".into()),
            status: "qualified".into(),
            owner: Some("maria".into()),
        }
    }

    #[test]
    fn a_plain_words_reply_ends_saying_who_read_it() {
        assert_eq!(
            read_by("I'll set Acme to won. OK?", ReadBy::Model),
            "I'll set Acme to won. OK?\n(read by the model)"
        );
        assert_eq!(
            read_by("I didn't catch that.", ReadBy::LocalRules),
            "I didn't catch that.\n(read by the local rules)"
        );
    }

    #[test]
    fn a_lead_line_shows_name_domain_status_owner_and_id() {
        assert_eq!(
            lead_line(&acme()),
            "Acme Corp (acme.com) · qualified · @maria · #l1"
        );
    }

    #[test]
    fn the_card_shows_contacts_all_three_tiers_and_local_times() {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).single();
        let card = LeadCard {
            lead: acme(),
            industry: Some("SaaS".into()),
            country: Some("DE".into()),
            state: None,
            tags: vec!["smb".into()],
            source: None,
            contacts: vec![Contact {
                id: "c1".into(),
                name: "Jane Doe".into(),
                position: Some("CTO".into()),
                phone: None,
                email: Some("jane@acme.com".into()),
                linkedin: None,
            }],
            tiers: [
                TierState {
                    tier: Tier::First,
                    outcome: Some(FollowUpOutcome::Replied),
                    scheduled_at: None,
                    notes: None,
                },
                TierState {
                    tier: Tier::Second,
                    outcome: Some(FollowUpOutcome::Pending),
                    scheduled_at: at,
                    notes: None,
                },
                TierState {
                    tier: Tier::Third,
                    outcome: None,
                    scheduled_at: None,
                    notes: None,
                },
            ],
            open_tasks: vec![],
            recent_notes: vec!["budget approved".into()],
        };
        let text = lead_card(&card, Berlin);
        assert!(text.contains("SaaS · DE"), "{text}");
        assert!(text.contains("• Jane Doe · CTO · jane@acme.com"), "{text}");
        assert!(text.contains("• 1. replied"), "{text}");
        assert!(text.contains("• 2. pending, Tue 1 Dec 09:00"), "{text}");
        assert!(text.contains("• 3. not yet"), "{text}");
        assert!(text.contains("• budget approved"), "{text}");
        assert!(
            !text.contains('*') && !text.contains('_'),
            "no markup: {text}"
        );
    }

    #[test]
    fn long_lists_are_cut_with_a_count_of_the_rest() {
        let leads = vec![acme(); MAX_LIST + 3];
        let text = lead_list("acme", &leads);
        assert!(text.ends_with("… and 3 more"), "{text}");
    }

    #[test]
    fn durations_read_as_hours_minutes_seconds() {
        assert_eq!(duration(5_400), "1h 30m");
        assert_eq!(duration(90), "1m 30s");
    }
}
