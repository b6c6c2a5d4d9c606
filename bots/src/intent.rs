//! Plain-language mentions → an [`Intent`] and a [`Proposal`] of commands.
//!
//! Promises: the rules are deterministic keyword and position rules, no model and
//! no randomness, so the same sentence always yields the same proposal; the crate
//! only *proposes* — the engine shows the proposal with confirm/cancel buttons and
//! runs nothing unconfirmed. When no rule is sure, the answer is `None` (or
//! `Question`), never a guess that writes data. Input beyond [`MAX_INTENT_CHARS`]
//! is ignored, so the cost is bounded.
//!
//! The rules are tried in a fixed order: a question word first ("what's due?"),
//! then creating a lead, a task or reminder ("remind me to…"), a status change,
//! a follow-up, a call; anything else ending in `?` is a question.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::command::{
    normalize_domain, Command, DueWindow, FollowUpOutcome, LeadRef, NewCall, NewFollowUp, NewLead,
    Priority, TaskStatusFilter, Tier,
};
use crate::dates;
use crate::lexer::trim_punct;
use crate::replies;
use crate::ParseContext;

/// Longest text the rules look at.
pub const MAX_INTENT_CHARS: usize = 1000;

/// What a sentence seems to ask for, with the slots the rules could fill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Intent {
    CreateLead {
        company: String,
        website: Option<String>,
    },
    LogFollowUp {
        lead: LeadRef,
        /// `None` when the sentence did not say; the proposal uses tier 1 and says so.
        tier: Option<Tier>,
        outcome: FollowUpOutcome,
        when: Option<DateTime<Utc>>,
    },
    CreateTask {
        title: String,
        /// `None` means the speaker.
        assignee: Option<String>,
        due: Option<DateTime<Utc>>,
    },
    ChangeStatus {
        lead: LeadRef,
        status: String,
    },
    LogCall {
        lead: LeadRef,
        outcome: String,
        /// "follow up next Tuesday" in the same sentence.
        follow_up_at: Option<DateTime<Utc>>,
        /// The sentence itself, kept as the call's notes.
        notes: String,
    },
    /// A question; `suggestion` is a read-only command that answers it, if any.
    Question {
        text: String,
        suggestion: Option<Command>,
    },
    None,
}

/// Commands to confirm, with a sentence saying what they will do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    pub summary: String,
    pub commands: Vec<Command>,
}

impl Intent {
    /// The first proposed command, if any.
    pub fn proposed_command(&self) -> Option<Command> {
        self.commands().into_iter().next()
    }

    /// All the proposed commands, in the order they would run.
    pub fn commands(&self) -> Vec<Command> {
        match self {
            Intent::CreateLead { company, website } => vec![Command::Lead(NewLead {
                company: company.clone(),
                website: website.clone(),
                ..NewLead::default()
            })],
            Intent::LogFollowUp {
                lead,
                tier,
                outcome,
                when,
            } => vec![Command::FollowUp {
                lead: lead.clone(),
                follow_up: NewFollowUp {
                    tier: tier.unwrap_or(Tier::First),
                    outcome: *outcome,
                    scheduled_at: *when,
                    notes: None,
                },
            }],
            Intent::CreateTask {
                title,
                assignee,
                due,
            } => vec![Command::Task {
                title: title.clone(),
                assignee: assignee.clone(),
                due: *due,
                priority: Priority::Normal,
                lead: None,
            }],
            Intent::ChangeStatus { lead, status } => vec![Command::Status {
                lead: lead.clone(),
                status: status.clone(),
            }],
            Intent::LogCall {
                lead,
                outcome,
                follow_up_at,
                notes,
            } => {
                let mut commands = vec![Command::Call {
                    lead: lead.clone(),
                    call: NewCall {
                        outcome: outcome.clone(),
                        duration_secs: None,
                        notes: Some(notes.clone()),
                    },
                }];
                if let Some(at) = follow_up_at {
                    commands.push(Command::FollowUp {
                        lead: lead.clone(),
                        follow_up: NewFollowUp {
                            tier: Tier::First,
                            outcome: FollowUpOutcome::Pending,
                            scheduled_at: Some(*at),
                            notes: None,
                        },
                    });
                }
                commands
            }
            Intent::Question { suggestion, .. } => suggestion.iter().cloned().collect(),
            Intent::None => Vec::new(),
        }
    }

    /// The commands with a human-readable summary for the confirm buttons; times
    /// are shown in `tz`.
    pub fn proposal(&self, tz: Tz) -> Option<Proposal> {
        let commands = self.commands();
        if commands.is_empty() {
            return None;
        }
        let lines: Vec<String> = commands.iter().map(|c| describe(c, tz)).collect();
        let summary = match self {
            Intent::Question { .. } => format!("Shall I {}?", lines.join(" and ")),
            _ => format!("I'll {}. OK?", lines.join(", and ")),
        };
        Some(Proposal { summary, commands })
    }
}

/// What a command will do, as the tail of "I'll …".
fn describe(command: &Command, tz: Tz) -> String {
    let at = |t: &DateTime<Utc>| replies::when(*t, tz);
    match command {
        Command::Lead(l) => match &l.website {
            Some(w) => format!("create the lead {} ({w})", l.company),
            None => format!("create the lead {}", l.company),
        },
        Command::FollowUp { lead, follow_up: f } => {
            let mut s = format!(
                "log follow-up {} on {lead} as {}",
                f.tier.number(),
                f.outcome.as_str()
            );
            if let Some(t) = &f.scheduled_at {
                s.push_str(&format!(" for {}", at(t)));
            }
            s
        }
        Command::Task {
            title,
            assignee,
            due,
            ..
        } => {
            let mut s = format!("create the task \"{title}\"");
            if let Some(a) = assignee {
                s.push_str(&format!(" for @{a}"));
            }
            if let Some(t) = due {
                s.push_str(&format!(" due {}", at(t)));
            }
            s
        }
        Command::Status { lead, status } => format!("set {lead} to {status}"),
        Command::Call { lead, call } => format!("log a call with {lead}: {}", call.outcome),
        Command::Show { lead } => format!("show {lead}"),
        Command::Due { window } => match window {
            DueWindow::Today => "show what's due today".into(),
            DueWindow::Overdue => "show what's overdue".into(),
            DueWindow::Week => "show what's due this week".into(),
        },
        Command::Tasks { .. } => "list your open tasks".into(),
        other => format!("run {}", other.name().slash()),
    }
}

/// A sentence split into words, keeping the original for names and a lower-case
/// copy without trailing punctuation for matching.
struct Words<'a> {
    orig: Vec<&'a str>,
    low: Vec<String>,
}

impl Words<'_> {
    fn find(&self, phrase: &str) -> Option<usize> {
        let p: Vec<&str> = phrase.split(' ').collect();
        (0..self.low.len()).find(|&i| {
            p.iter()
                .enumerate()
                .all(|(j, w)| self.low.get(i + j).is_some_and(|x| x == w))
        })
    }

    /// Index just after the first of `phrases` that occurs.
    fn after_any(&self, phrases: &[&str]) -> Option<usize> {
        phrases
            .iter()
            .filter_map(|p| self.find(p).map(|i| (i, i + p.split(' ').count())))
            .min_by_key(|(start, _)| *start)
            .map(|(_, end)| end)
    }

    fn has(&self, phrase: &str) -> bool {
        self.find(phrase).is_some()
    }

    fn has_any(&self, phrases: &[&str]) -> bool {
        phrases.iter().any(|p| self.has(p))
    }

    /// The first date or time at or after `from`, and the word range it covers.
    fn date_from(&self, from: usize, ctx: &ParseContext) -> Option<(DateTime<Utc>, usize, usize)> {
        (from..self.orig.len()).find_map(|i| {
            if self.low[i] == "now" {
                return None;
            }
            let end = (i + dates::MAX_WORDS).min(self.orig.len());
            dates::parse_when_prefix(&self.orig[i..end], ctx).map(|(at, n)| (at, i, i + n))
        })
    }

    /// A lead name starting at `start`: the first word, then following words while
    /// they are capitalised, a domain or `#id`, up to four, ending at punctuation.
    fn lead_at(&self, start: usize) -> Option<LeadRef> {
        const STOP: &[&str] = &[
            "and",
            "about",
            "re",
            "regarding",
            "on",
            "at",
            "for",
            "today",
            "yesterday",
            "they",
            "he",
            "she",
            "who",
            "but",
            "said",
            "is",
            "was",
            "as",
            "to",
            "the",
            "a",
            "an",
            "-",
        ];
        let mut i = start;
        while self
            .low
            .get(i)
            .is_some_and(|w| matches!(w.as_str(), "the" | "a" | "an"))
        {
            i += 1;
        }
        let first = *self.orig.get(i)?;
        if STOP.contains(&self.low[i].as_str()) || trim_punct(first).is_empty() {
            return None;
        }
        let mut name = vec![trim_punct(first)];
        let mut ended = first.len() != trim_punct(first).len();
        while !ended && name.len() < 4 {
            let Some(next) = self.orig.get(i + name.len()) else {
                break;
            };
            let clean = trim_punct(next);
            let capital = clean.chars().next().is_some_and(char::is_uppercase);
            if clean.is_empty() || STOP.contains(&clean.to_lowercase().as_str()) || !capital {
                break;
            }
            name.push(clean);
            ended = next.len() != clean.len();
        }
        Some(LeadRef::from_text(&name.join(" ")))
    }

    fn text(&self) -> String {
        self.orig.join(" ")
    }
}

/// Who read a plain-words message: the model (when the CRM has one and may
/// use it) or this module's rules. Every proposal says which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadBy {
    Model,
    LocalRules,
}

impl ReadBy {
    /// The note a plain-words reply ends with.
    pub fn note(self) -> &'static str {
        match self {
            ReadBy::Model => "(read by the model)",
            ReadBy::LocalRules => "(read by the local rules)",
        }
    }
}

/// The words of a message as the rules read them: at most
/// [`MAX_INTENT_CHARS`], without the leading @mentions of this bot (with no
/// bot name known, any leading @mention; "@bot @maria …" keeps `@maria`).
fn sentence_words<'a>(text: &'a str, ctx: &ParseContext) -> Vec<&'a str> {
    let end = text
        .char_indices()
        .nth(MAX_INTENT_CHARS)
        .map_or(text.len(), |(i, _)| i);
    let mut orig: Vec<&str> = text[..end].split_whitespace().collect();
    while let Some(first) = orig.first() {
        let name = trim_punct(first.trim_start_matches('@'));
        let is_me = first.starts_with('@')
            && ctx
                .bot_username
                .as_deref()
                .is_none_or(|me| name.eq_ignore_ascii_case(me));
        if !is_me {
            break;
        }
        orig.remove(0);
    }
    orig
}

/// The message as the model is given it: the words the rules would read,
/// without the bot's own leading mention, so both read the same sentence.
pub fn plain_words(text: &str, ctx: &ParseContext) -> String {
    sentence_words(text, ctx).join(" ")
}

/// The read-only command that answers a question, as the rules suggest it
/// ("what's due today?" → `/due today`), whoever decided it is a question.
pub fn question_suggestion(text: &str, ctx: &ParseContext) -> Option<Command> {
    let orig = sentence_words(text, ctx);
    if orig.is_empty() {
        return None;
    }
    let w = words(orig);
    match question(&w, String::new()) {
        Intent::Question { suggestion, .. } => suggestion,
        _ => None,
    }
}

fn words(orig: Vec<&str>) -> Words<'_> {
    let low = orig
        .iter()
        .map(|w| trim_punct(w).to_lowercase().replace('’', "'"))
        .collect();
    Words { orig, low }
}

/// Reads a mention or direct message; see the module docs for the rules.
pub fn detect_intent(text: &str, ctx: &ParseContext) -> Intent {
    let mut orig = sentence_words(text, ctx);
    // Politeness carries no meaning for the rules: "can you please log a call…".
    loop {
        let first = orig.first().map(|w| trim_punct(w).to_lowercase());
        let second = orig.get(1).map(|w| w.to_lowercase());
        match (first.as_deref(), second.as_deref()) {
            (Some("please" | "pls" | "plz" | "kindly"), _) => {
                orig.remove(0);
            }
            (Some("can" | "could" | "would"), Some("you" | "u")) => {
                orig.drain(..2);
            }
            _ => break,
        }
    }
    if orig.is_empty() {
        return Intent::None;
    }
    let w = words(orig);
    let sentence = w.text();

    if starts_with_question_word(&w.low[0]) {
        return question(&w, sentence);
    }
    if let Some(intent) = create_lead(&w) {
        return intent;
    }
    if let Some(intent) = create_task(&w, ctx) {
        return intent;
    }
    if let Some(intent) = change_status(&w) {
        return intent;
    }
    if let Some(intent) = follow_up(&w, ctx) {
        return intent;
    }
    if let Some(intent) = call(&w, ctx) {
        return intent;
    }
    if sentence.trim_end().ends_with('?') {
        return question(&w, sentence);
    }
    Intent::None
}

fn starts_with_question_word(word: &str) -> bool {
    const WH: &[&str] = &[
        "what", "who", "whom", "whose", "when", "where", "which", "how", "why",
    ];
    let stem = word.split('\'').next().unwrap_or(word);
    WH.contains(&stem) || word == "whats" || word == "whos"
}

fn question(w: &Words, text: String) -> Intent {
    let suggestion = if w.has_any(&["due", "my agenda", "to do", "todo"]) {
        Some(Command::Due {
            window: if w.has("overdue") {
                DueWindow::Overdue
            } else if w.has("week") {
                DueWindow::Week
            } else {
                DueWindow::Today
            },
        })
    } else if w.has_any(&["my tasks", "open tasks"]) {
        Some(Command::Tasks {
            assignee: None,
            status: TaskStatusFilter::Open,
        })
    } else {
        w.after_any(&["status of", "who owns", "about", "owner of"])
            .and_then(|i| w.lead_at(i))
            .map(|lead| Command::Show { lead })
    };
    Intent::Question { text, suggestion }
}

fn create_lead(w: &Words) -> Option<Intent> {
    let start = w.after_any(&[
        "new lead",
        "add lead",
        "add a lead",
        "add a new lead",
        "create lead",
        "create a lead",
        "create a new lead",
    ])?;
    let website = w.orig.iter().find_map(|x| normalize_domain(trim_punct(x)));
    let mut name = Vec::new();
    for (i, word) in w.orig.iter().enumerate().skip(start) {
        let low = w.low[i].as_str();
        if name.is_empty() && matches!(low, "" | "for" | "called" | "named" | "-") {
            continue;
        }
        if matches!(low, "from" | "in" | "with" | "website" | "domain" | "and")
            || normalize_domain(trim_punct(word)).is_some()
        {
            break;
        }
        let clean = trim_punct(word);
        if !clean.is_empty() {
            name.push(clean);
        }
        if word.len() != clean.len() {
            break;
        }
    }
    let company = name.join(" ");
    if company.is_empty() {
        return None;
    }
    Some(Intent::CreateLead { company, website })
}

fn create_task(w: &Words, ctx: &ParseContext) -> Option<Intent> {
    let (start, assignee) = if w.low[0] == "remind" {
        let who = w.orig.get(1)?;
        let assignee = match w.low[1].as_str() {
            "me" => None,
            _ if who.starts_with('@') => Some(trim_punct(who.trim_start_matches('@')).to_string()),
            _ => return None,
        };
        if w.low.get(2).map(String::as_str) != Some("to") {
            return None;
        }
        (3, assignee)
    } else {
        // Only at the start: "todo: …", "new task …"; "the task went fine" is no task.
        let start = [
            "todo",
            "to do",
            "task",
            "new task",
            "add a task",
            "create a task",
        ]
        .iter()
        .filter(|p| w.find(p) == Some(0))
        .map(|p| p.split(' ').count())
        .max()?;
        (start, None)
    };
    let date = w.date_from(start, ctx);
    let mut title = Vec::new();
    for (i, word) in w.orig.iter().enumerate().skip(start) {
        if let Some((_, from, to)) = date {
            if (from..to).contains(&i) {
                continue;
            }
            // "by friday", "on monday": the preposition belongs to the date.
            if i + 1 == from && matches!(w.low[i].as_str(), "by" | "on" | "at" | "due") {
                continue;
            }
        }
        if title.is_empty() && matches!(w.low[i].as_str(), "" | "to" | "-") {
            continue;
        }
        title.push(*word);
    }
    let title = trim_punct(&title.join(" ")).to_string();
    if title.is_empty() {
        return None;
    }
    Some(Intent::CreateTask {
        title,
        assignee,
        due: date.map(|(at, _, _)| at),
    })
}

fn change_status(w: &Words) -> Option<Intent> {
    const FILLER: &[&str] = &["status", "of", "the", "'s"];
    let (lead_words, status_words): (Vec<&str>, Vec<&str>) = if matches!(
        w.low[0].as_str(),
        "mark" | "move" | "set" | "change" | "update"
    ) {
        let k = w
            .low
            .iter()
            .position(|x| x == "as" || x == "to")
            .filter(|k| *k > 1)?;
        (w.orig[1..k].to_vec(), w.orig[k + 1..].to_vec())
    } else {
        let k = w.find("is now")?;
        (w.orig[..k].to_vec(), w.orig[k + 2..].to_vec())
    };
    let lead: Vec<&str> = lead_words
        .iter()
        .map(|x| trim_punct(x).trim_end_matches("'s"))
        .filter(|x| !x.is_empty() && !FILLER.contains(&x.to_lowercase().as_str()))
        .collect();
    let status: Vec<String> = status_words
        .iter()
        .map(|x| trim_punct(x).to_lowercase())
        .filter(|x| !x.is_empty())
        .collect();
    if lead.is_empty() || status.is_empty() || status.len() > 2 || lead.len() > 4 {
        return None;
    }
    Some(Intent::ChangeStatus {
        lead: LeadRef::from_text(&lead.join(" ")),
        status: status.join("_"),
    })
}

const FOLLOW_UP_WORDS: [&str; 3] = ["follow up", "follow-up", "followup"];

fn tier_in(w: &Words) -> Option<Tier> {
    let numbered = |n: u8| {
        FOLLOW_UP_WORDS
            .iter()
            .any(|f| w.has(&format!("{f} {n}")) || w.has(&format!("{f} #{n}")))
    };
    if w.has_any(&["first", "1st", "tier 1"]) || numbered(1) {
        Some(Tier::First)
    } else if w.has_any(&["second", "2nd", "tier 2"]) || numbered(2) {
        Some(Tier::Second)
    } else if w.has_any(&["third", "3rd", "tier 3"]) || numbered(3) {
        Some(Tier::Third)
    } else {
        None
    }
}

fn follow_up(w: &Words, ctx: &ParseContext) -> Option<Intent> {
    let past = w.has_any(&[
        "followed up",
        "sent a follow-up",
        "sent follow-up",
        "sent the follow-up",
    ]);
    let mut triggers: Vec<String> = [
        "followed up with",
        "followed up on",
        "sent a follow-up to",
        "sent follow-up to",
        "sent the follow-up to",
    ]
    .iter()
    .map(|t| t.to_string())
    .collect();
    // "follow up with", and with a tier number: "follow-up 2 with".
    for f in FOLLOW_UP_WORDS {
        for tier in ["", " 1", " 2", " 3", " #1", " #2", " #3"] {
            triggers.push(format!("{f}{tier} with"));
            triggers.push(format!("{f}{tier} on"));
        }
    }
    let triggers: Vec<&str> = triggers.iter().map(String::as_str).collect();
    let start = w.after_any(&triggers)?;
    // "log a call …, follow up next tuesday" is a call; this rule wants the
    // follow-up to be the subject of the sentence.
    if w.has_any(&["call", "called", "rang", "phoned"]) {
        return None;
    }
    let lead = w.lead_at(start)?;
    let when = w.date_from(start, ctx).map(|(at, _, _)| at);
    let outcome = if w.has_any(&["replied", "responded", "got back", "answered"]) {
        FollowUpOutcome::Replied
    } else if w.has_any(&[
        "no answer",
        "no reply",
        "no response",
        "didn't reply",
        "no luck",
    ]) {
        FollowUpOutcome::NoAnswer
    } else if w.has_any(&["skip", "skipped"]) {
        FollowUpOutcome::Skipped
    } else if past || w.has("done") {
        FollowUpOutcome::Done
    } else {
        FollowUpOutcome::Pending
    };
    Some(Intent::LogFollowUp {
        lead,
        tier: tier_in(w),
        outcome,
        when,
    })
}

fn call(w: &Words, ctx: &ParseContext) -> Option<Intent> {
    let start = w.after_any(&[
        "log a call with",
        "log call with",
        "logged a call with",
        "had a call with",
        "call with",
        "spoke with",
        "spoke to",
        "talked to",
        "talked with",
        "called",
        "rang",
        "phoned",
    ])?;
    let lead = w.lead_at(start)?;
    let outcome = if w.has("not interested") {
        "not_interested"
    } else if w.has_any(&["interested", "keen"]) {
        "interested"
    } else if w.has_any(&[
        "no answer",
        "didn't pick up",
        "did not pick up",
        "no response",
    ]) {
        "no_answer"
    } else if w.has_any(&["voicemail", "left a message"]) {
        "voicemail"
    } else if w.has("busy") {
        "busy"
    } else if w.has("wrong number") {
        "wrong_number"
    } else if w.has_any(&["call back", "callback", "call me back"]) {
        "callback"
    } else {
        "connected"
    };
    let follow_up_at = w
        .after_any(&[
            "follow up",
            "follow-up",
            "followup",
            "call back",
            "call again",
            "try again",
        ])
        .and_then(|i| w.date_from(i, ctx))
        .map(|(at, _, _)| at);
    Some(Intent::LogCall {
        lead,
        outcome: outcome.into(),
        follow_up_at,
        notes: w.text(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Berlin;

    /// Friday 2026-11-27, 10:00 in Berlin.
    fn ctx() -> ParseContext {
        ParseContext {
            now: DateTime::parse_from_rfc3339("2026-11-27T09:00:00Z")
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|e| panic!("{e}")),
            timezone: Berlin,
            bot_username: Some("EaCrmBot".into()),
        }
    }

    fn intent(text: &str) -> Intent {
        detect_intent(text, &ctx())
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn name(s: &str) -> LeadRef {
        LeadRef::Name(s.into())
    }

    #[test]
    fn a_call_with_interest_and_a_follow_up_date_proposes_two_commands() {
        let text = "@EaCrmBot log a call with Acme, interested, follow up next Tuesday";
        let i = intent(text);
        assert_eq!(
            i,
            Intent::LogCall {
                lead: name("Acme"),
                outcome: "interested".into(),
                follow_up_at: Some(utc("2026-12-01T08:00:00Z")),
                notes: "log a call with Acme, interested, follow up next Tuesday".into(),
            }
        );
        let p = i.proposal(Berlin).unwrap_or_else(|| panic!("no proposal"));
        assert_eq!(p.commands.len(), 2);
        assert!(
            matches!(&p.commands[0], Command::Call { call, .. } if call.outcome == "interested")
        );
        assert!(matches!(
            &p.commands[1],
            Command::FollowUp { follow_up, .. }
                if follow_up.outcome == FollowUpOutcome::Pending
                && follow_up.scheduled_at == Some(utc("2026-12-01T08:00:00Z"))
        ));
        assert_eq!(
            p.summary,
            "I'll log a call with Acme: interested, and log follow-up 1 on Acme as pending for Tue 1 Dec 09:00. OK?"
        );
        assert_eq!(i.proposed_command(), Some(p.commands[0].clone()));
    }

    #[test]
    fn calling_a_domain_with_no_answer_is_a_call() {
        assert!(matches!(
            intent("called acme.com, no answer"),
            Intent::LogCall { lead: LeadRef::Domain(d), outcome, follow_up_at: None, .. }
                if d == "acme.com" && outcome == "no_answer"
        ));
    }

    #[test]
    fn a_two_word_company_and_not_interested() {
        assert!(matches!(
            intent("Had a call with Globex Corp today, not interested"),
            Intent::LogCall { lead, outcome, follow_up_at: None, .. }
                if lead == name("Globex Corp") && outcome == "not_interested"
        ));
    }

    #[test]
    fn spoke_to_with_a_call_back_date() {
        assert!(matches!(
            intent("spoke to Initech - they want a call back tomorrow 3pm"),
            Intent::LogCall { lead, outcome, follow_up_at: Some(at), .. }
                if lead == name("Initech") && outcome == "callback" && at == utc("2026-11-28T14:00:00Z")
        ));
    }

    #[test]
    fn new_lead_with_a_domain() {
        assert_eq!(
            intent("new lead: Initech, initech.com"),
            Intent::CreateLead {
                company: "Initech".into(),
                website: Some("initech.com".into())
            }
        );
    }

    #[test]
    fn add_a_lead_stops_the_name_at_from() {
        assert_eq!(
            intent("@EaCrmBot add a lead for Umbrella Corp from Germany"),
            Intent::CreateLead {
                company: "Umbrella Corp".into(),
                website: None
            }
        );
    }

    #[test]
    fn mark_as_is_now_and_move_to_change_status() {
        assert_eq!(
            intent("mark Acme Corp as won"),
            Intent::ChangeStatus {
                lead: name("Acme Corp"),
                status: "won".into()
            }
        );
        assert_eq!(
            intent("Globex is now qualified"),
            Intent::ChangeStatus {
                lead: name("Globex"),
                status: "qualified".into()
            }
        );
        assert_eq!(
            intent("move initech.com to closed lost"),
            Intent::ChangeStatus {
                lead: LeadRef::Domain("initech.com".into()),
                status: "closed_lost".into()
            }
        );
    }

    #[test]
    fn a_past_follow_up_that_got_a_reply() {
        assert_eq!(
            intent("followed up with Acme, they replied"),
            Intent::LogFollowUp {
                lead: name("Acme"),
                tier: None,
                outcome: FollowUpOutcome::Replied,
                when: None
            }
        );
    }

    #[test]
    fn a_numbered_follow_up_marked_done() {
        assert_eq!(
            intent("second follow-up with Hooli done"),
            Intent::LogFollowUp {
                lead: name("Hooli"),
                tier: Some(Tier::Second),
                outcome: FollowUpOutcome::Done,
                when: None
            }
        );
    }

    #[test]
    fn a_tier_number_after_follow_up_is_the_tier() {
        assert_eq!(
            intent("follow-up 2 with Acme replied"),
            Intent::LogFollowUp {
                lead: name("Acme"),
                tier: Some(Tier::Second),
                outcome: FollowUpOutcome::Replied,
                when: None
            }
        );
    }

    #[test]
    fn a_polite_request_phrased_as_a_question_is_still_a_request() {
        assert_eq!(
            intent("@EaCrmBot can you please create a task to email the CFO next week?"),
            Intent::CreateTask {
                title: "email the CFO".into(),
                assignee: None,
                due: Some(utc("2026-11-30T08:00:00Z")),
            }
        );
    }

    #[test]
    fn a_future_follow_up_is_pending_with_its_date() {
        assert_eq!(
            intent("follow up with Stark Industries next monday"),
            Intent::LogFollowUp {
                lead: name("Stark Industries"),
                tier: None,
                outcome: FollowUpOutcome::Pending,
                when: Some(utc("2026-11-30T08:00:00Z")),
            }
        );
    }

    #[test]
    fn remind_me_to_becomes_my_task_with_the_date_taken_out_of_the_title() {
        assert_eq!(
            intent("remind me to send the proposal to Acme tomorrow 10am"),
            Intent::CreateTask {
                title: "send the proposal to Acme".into(),
                assignee: None,
                due: Some(utc("2026-11-28T09:00:00Z")),
            }
        );
    }

    #[test]
    fn remind_a_colleague_to_do_something_by_a_day() {
        assert_eq!(
            intent("remind @maria to update the deck by friday"),
            Intent::CreateTask {
                title: "update the deck".into(),
                assignee: Some("maria".into()),
                due: Some(utc("2026-12-04T08:00:00Z")),
            }
        );
    }

    #[test]
    fn todo_without_a_date() {
        assert_eq!(
            intent("todo: prepare Q1 pricing sheet"),
            Intent::CreateTask {
                title: "prepare Q1 pricing sheet".into(),
                assignee: None,
                due: None
            }
        );
    }

    #[test]
    fn what_is_due_today_is_a_question_suggesting_due() {
        let i = intent("@EaCrmBot what's due today?");
        assert_eq!(
            i,
            Intent::Question {
                text: "what's due today?".into(),
                suggestion: Some(Command::Due {
                    window: DueWindow::Today
                })
            }
        );
        assert_eq!(
            i.proposal(Berlin).map(|p| p.summary),
            Some("Shall I show what's due today?".into())
        );
    }

    #[test]
    fn who_owns_a_lead_suggests_its_card() {
        assert_eq!(
            intent("who owns Acme?"),
            Intent::Question {
                text: "who owns Acme?".into(),
                suggestion: Some(Command::Show { lead: name("Acme") })
            }
        );
    }

    #[test]
    fn a_yes_no_question_has_no_suggestion() {
        assert_eq!(
            intent("is the demo still on?"),
            Intent::Question {
                text: "is the demo still on?".into(),
                suggestion: None
            }
        );
        assert_eq!(intent("is the demo still on?").proposal(Berlin), None);
    }

    #[test]
    fn chatter_is_no_intent() {
        for text in [
            "thanks!",
            "good morning team",
            "@EaCrmBot",
            "",
            "the call went well",
            "I love this bot",
            "lunch at noon, anyone",
            "the task list looks long",
        ] {
            assert_eq!(intent(text), Intent::None, "{text:?}");
        }
    }

    #[test]
    fn the_model_is_given_the_words_without_the_bots_own_mention() {
        assert_eq!(
            plain_words("@EaCrmBot,  closed   the Hooli deal", &ctx()),
            "closed the Hooli deal"
        );
        assert_eq!(plain_words("@maria thanks", &ctx()), "@maria thanks");
        assert_eq!(plain_words("@EaCrmBot", &ctx()), "");
        let long = "a ".repeat(MAX_INTENT_CHARS);
        assert!(plain_words(&long, &ctx()).chars().count() <= MAX_INTENT_CHARS);
    }

    #[test]
    fn a_question_gets_the_rules_suggestion_whoever_read_it() {
        assert_eq!(
            question_suggestion("@EaCrmBot anything due this week", &ctx()),
            Some(Command::Due {
                window: DueWindow::Week
            })
        );
        assert_eq!(
            question_suggestion("tell me about Acme Corp", &ctx()),
            Some(Command::Show {
                lead: name("Acme Corp")
            })
        );
        assert_eq!(question_suggestion("is the demo still on", &ctx()), None);
        assert_eq!(question_suggestion("", &ctx()), None);
    }

    #[test]
    fn who_read_it_is_said_in_words() {
        assert_eq!(ReadBy::Model.note(), "(read by the model)");
        assert_eq!(ReadBy::LocalRules.note(), "(read by the local rules)");
    }

    #[test]
    fn a_message_to_another_user_is_not_stripped_as_a_bot_mention() {
        assert_eq!(intent("@maria thanks"), Intent::None);
    }
}
