//! Text → [`Command`].
//!
//! Promises:
//! - `/cmd`, `/cmd@ThisBot` and surrounding whitespace are accepted; the same text
//!   means the same command on every platform;
//! - a wrong command yields a [`UsageError`] whose `Display` is the whole reply:
//!   what was wrong, then the usage line from the catalogue; an unknown command
//!   suggests the closest known one;
//! - `parse` never panics, and input longer than [`MAX_INPUT_CHARS`] is refused
//!   before any work, so the cost of a message is bounded.
//!
//! How a multi-word lead name is told from the arguments after it, without quotes:
//! `/status` takes the last word as the status; `/followup` ends the name at the
//! tier digit; `/call` ends it at a known outcome word; `/assign` takes every word
//! that is not the mention; otherwise a name ends at a word with a trailing colon
//! (`/note Acme Corp: text`) or is a single word. Quotes, `#id`, `id=` and `lead=`
//! always work.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::catalog::{self, CommandName};
use crate::command::{
    is_id, normalize_domain, Command, DueWindow, FollowUpOutcome, LeadRef, NewCall, NewContact,
    NewFollowUp, NewLead, Priority, TaskStatusFilter, Tier,
};
use crate::dates;
use crate::lexer::{tokenize, Token};

/// Longest message `parse` looks at; longer ones are refused (Telegram's own limit
/// is 4096 characters).
pub const MAX_INPUT_CHARS: usize = 4096;

/// What parsing needs to know about the moment and the person.
#[derive(Clone, Debug)]
pub struct ParseContext {
    pub now: DateTime<Utc>,
    /// The user's timezone; natural dates are read on this wall clock.
    pub timezone: Tz,
    /// This bot's username (without `@`), to accept `/cmd@ThisBot` and ignore
    /// commands addressed to other bots in a group.
    pub bot_username: Option<String>,
}

/// A command that could not be understood; `Display` is the reply to send.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct UsageError {
    /// `/followup`, or what the user typed for an unknown command.
    pub command: String,
    pub problem: String,
    /// The usage line of the command (or of the suggested one).
    pub usage: String,
}

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.command.is_empty() {
            f.write_str(&self.problem)?;
        } else {
            write!(f, "{}: {}", self.command, self.problem)?;
        }
        if !self.usage.is_empty() {
            write!(f, "\nUsage: {}", self.usage)?;
        }
        Ok(())
    }
}

fn usage(name: CommandName, problem: impl Into<String>) -> UsageError {
    UsageError {
        command: name.slash(),
        problem: problem.into(),
        usage: name.usage().to_string(),
    }
}

/// Splits `/cmd@bot rest` into (`cmd`, `Some(bot)`, `rest`).
fn split_head(text: &str) -> Option<(&str, Option<&str>, &str)> {
    let text = text.trim_start().strip_prefix('/')?;
    let end = text.find(char::is_whitespace).unwrap_or(text.len());
    let (head, rest) = text.split_at(end);
    let (word, bot) = match head.split_once('@') {
        Some((w, b)) => (w, Some(b)),
        None => (head, None),
    };
    Some((word, bot, rest))
}

/// Whether `text` is a command explicitly addressed to a different bot
/// (`/help@OtherBot`); such messages should be ignored, not answered.
pub fn addressed_to_other_bot(text: &str, ctx: &ParseContext) -> bool {
    match (split_head(text), &ctx.bot_username) {
        (Some((_, Some(bot), _)), Some(me)) => !bot.eq_ignore_ascii_case(me),
        _ => false,
    }
}

/// The command a message names, if it starts with a known `/command`.
pub fn command_name(text: &str) -> Option<CommandName> {
    split_head(text).and_then(|(word, _, _)| CommandName::from_word(word))
}

/// Parses one command message. See the module docs.
pub fn parse(text: &str, ctx: &ParseContext) -> Result<Command, UsageError> {
    if text.len() > MAX_INPUT_CHARS && text.chars().count() > MAX_INPUT_CHARS {
        return Err(UsageError {
            command: String::new(),
            problem: format!("That message is too long (over {MAX_INPUT_CHARS} characters)."),
            usage: String::new(),
        });
    }
    let Some((word, bot, rest)) = split_head(text) else {
        return Err(UsageError {
            command: String::new(),
            problem: "Commands start with /. Send /help for the list.".into(),
            usage: String::new(),
        });
    };
    if addressed_to_other_bot(text, ctx) {
        return Err(UsageError {
            command: format!("/{word}"),
            problem: format!("addressed to @{}, not to me", bot.unwrap_or_default()),
            usage: String::new(),
        });
    }
    let Some(name) = CommandName::from_word(word) else {
        let shown: String = word.chars().take(32).collect();
        return Err(match catalog::closest(word) {
            Some(near) => UsageError {
                command: format!("/{shown}"),
                problem: format!("unknown command, did you mean {}?", near.slash()),
                usage: near.usage().to_string(),
            },
            None => UsageError {
                command: format!("/{shown}"),
                problem: "unknown command".into(),
                usage: "/help".into(),
            },
        });
    };
    let mut args = Args {
        name,
        tokens: tokenize(rest),
    };
    match name {
        CommandName::Lead => args.lead(),
        CommandName::Find => args.find(),
        CommandName::Show => Ok(Command::Show {
            lead: args.lead_from_all()?,
        }),
        CommandName::Status => args.status(),
        CommandName::FollowUp => args.follow_up(ctx),
        CommandName::Contact => args.contact(),
        CommandName::Note => args.note(),
        CommandName::Call => args.call(),
        CommandName::Task => args.task(ctx),
        CommandName::Tasks => args.tasks(),
        CommandName::Due => args.due(),
        CommandName::Assign => args.assign(),
        CommandName::Remind => args.remind(ctx),
        CommandName::Link => args.link(),
        CommandName::Help => args.help(),
    }
}

/// Words a call outcome may be; used to find where an unquoted lead name ends.
const CALL_OUTCOMES: &[&str] = &[
    "interested",
    "not_interested",
    "no_answer",
    "noanswer",
    "voicemail",
    "callback",
    "call_back",
    "busy",
    "connected",
    "meeting",
    "declined",
    "wrong_number",
    "left_message",
];

struct Args {
    name: CommandName,
    tokens: Vec<Token>,
}

impl Args {
    fn err(&self, problem: impl Into<String>) -> UsageError {
        usage(self.name, problem)
    }

    /// Removes and returns the value of the first `key=value` whose key is in `keys`.
    fn take_pair(&mut self, keys: &[&str]) -> Option<String> {
        let at = self
            .tokens
            .iter()
            .position(|t| matches!(t, Token::Pair { key, .. } if keys.contains(&key.as_str())))?;
        match self.tokens.remove(at) {
            Token::Pair { value, .. } => Some(value.trim().to_string()),
            _ => None,
        }
    }

    /// Removes and returns every `@mention`.
    fn take_mentions(&mut self) -> Vec<String> {
        let mut found = Vec::new();
        self.tokens.retain(|t| match t {
            Token::Mention(m) => {
                found.push(m.clone());
                false
            }
            _ => true,
        });
        found
    }

    /// `id=` or `lead=` anywhere in the arguments.
    fn take_lead_pair(&mut self) -> Result<Option<LeadRef>, UsageError> {
        if let Some(id) = self.take_pair(&["id"]) {
            let id = id.trim_start_matches('#');
            if !is_id(id) {
                return Err(self.err(format!("'{id}' is not a lead id")));
            }
            return Ok(Some(LeadRef::Id(id.to_string())));
        }
        Ok(self
            .take_pair(&["lead"])
            .filter(|v| !v.is_empty())
            .map(|v| LeadRef::from_text(&v)))
    }

    /// The lead named by all remaining tokens.
    fn lead_from_all(&mut self) -> Result<LeadRef, UsageError> {
        if let Some(lead) = self.take_lead_pair()? {
            return Ok(lead);
        }
        let text = join(&self.tokens);
        let text = text.trim().trim_end_matches(':').trim();
        self.tokens.clear();
        if text.is_empty() {
            return Err(self.err("which lead? Give a name, domain or #id"));
        }
        Ok(if text.contains(char::is_whitespace) {
            LeadRef::Name(text.to_string())
        } else {
            LeadRef::from_text(text)
        })
    }

    /// A lead at the front: `lead=`/`id=`, one quoted or single token, or the words
    /// before the first that ends in `:` or satisfies `ends_before`.
    fn lead_from_front(
        &mut self,
        ends_before: impl Fn(&Token) -> bool,
    ) -> Result<LeadRef, UsageError> {
        if let Some(lead) = self.take_lead_pair()? {
            return Ok(lead);
        }
        let run = self
            .tokens
            .iter()
            .take_while(|t| t.word().is_some())
            .count();
        let colon = self.tokens[..run]
            .iter()
            .position(|t| t.word().is_some_and(|w| w.ends_with(':')));
        // The name has at least one word, so the boundary is searched after it.
        let boundary = self
            .tokens
            .get(1..run)
            .and_then(|rest| rest.iter().position(&ends_before))
            .map(|i| i + 1);
        let take = match (colon, boundary) {
            (Some(c), Some(b)) => (c + 1).min(b),
            (Some(c), None) => c + 1,
            (None, Some(b)) => b,
            (None, None) => 1,
        };
        let taken: Vec<Token> = self.tokens.drain(..take.min(self.tokens.len())).collect();
        let text = join(&taken);
        let text = text.trim().trim_end_matches(':').trim();
        if text.is_empty() {
            return Err(self.err("which lead? Give a name, domain or #id"));
        }
        Ok(match taken.as_slice() {
            [Token::Quoted(q)] => LeadRef::from_text(q),
            [_] => LeadRef::from_text(text),
            _ => LeadRef::Name(text.to_string()),
        })
    }

    /// Leading bare words read as a date, if they are one.
    fn take_date_prefix(&mut self, ctx: &ParseContext) -> Option<DateTime<Utc>> {
        let words: Vec<&str> = self
            .tokens
            .iter()
            .map_while(Token::word)
            .take(dates::MAX_WORDS)
            .collect();
        let (at, used) = dates::parse_when_prefix(&words, ctx)?;
        self.tokens.drain(..used);
        Some(at)
    }

    fn date_pair(
        &mut self,
        keys: &[&str],
        ctx: &ParseContext,
    ) -> Result<Option<DateTime<Utc>>, UsageError> {
        match self.take_pair(keys) {
            None => Ok(None),
            Some(text) => dates::parse_when(&text, ctx)
                .map(Some)
                .ok_or_else(|| self.err(bad_date(&text))),
        }
    }

    fn rest_text(&mut self) -> Option<String> {
        let text = join(&self.tokens);
        self.tokens.clear();
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_string())
    }

    fn lead(&mut self) -> Result<Command, UsageError> {
        let mut lead = NewLead {
            website: self.take_pair(&["website", "domain", "url", "web", "site"]),
            industry: self.take_pair(&["industry"]),
            country: self.take_pair(&["country"]).map(|c| {
                if c.chars().count() == 2 {
                    c.to_uppercase()
                } else {
                    c
                }
            }),
            state: self.take_pair(&["state", "region"]),
            owner: self
                .take_pair(&["owner"])
                .map(|o| o.trim_start_matches('@').to_string()),
            tags: self
                .take_pair(&["tags", "tag"])
                .map(|t| {
                    t.split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            source: self.take_pair(&["source"]),
            company: self.take_pair(&["company", "name"]).unwrap_or_default(),
            // Only the "create anyway" button sets it.
            allow_duplicate: false,
        };
        if let Some(website) = &lead.website {
            lead.website = Some(
                normalize_domain(website)
                    .ok_or_else(|| self.err(format!("'{website}' is not a website or domain")))?,
            );
        }
        let mentions = self.take_mentions();
        match mentions.as_slice() {
            [] => {}
            [one] if lead.owner.is_none() => lead.owner = Some(one.clone()),
            _ => return Err(self.err("a lead has one owner; mention one @user")),
        }
        let mut company = Vec::new();
        for token in std::mem::take(&mut self.tokens) {
            match token {
                Token::Pair { key, .. } => {
                    return Err(self.err(format!(
                        "unknown option '{key}=' (known: website, country, industry, state, owner, tags, source)"
                    )))
                }
                Token::Word(w) if lead.website.is_none() && normalize_domain(&w).is_some() => {
                    lead.website = normalize_domain(&w);
                }
                other => company.push(other.text()),
            }
        }
        if lead.company.is_empty() {
            lead.company = company.join(" ");
        } else if !company.is_empty() {
            return Err(self.err(format!("unexpected '{}'", company.join(" "))));
        }
        if lead.company.trim().is_empty() {
            return Err(self.err("the company name is missing"));
        }
        Ok(Command::Lead(lead))
    }

    fn find(&mut self) -> Result<Command, UsageError> {
        let query = self
            .rest_text()
            .ok_or_else(|| self.err("what should I look for?"))?;
        Ok(Command::Find { query })
    }

    fn status(&mut self) -> Result<Command, UsageError> {
        let status = match self.take_pair(&["status"]) {
            Some(s) => s,
            None => match self.tokens.pop() {
                Some(Token::Word(w) | Token::Quoted(w)) if !self.tokens.is_empty() => w,
                Some(Token::Pair { .. } | Token::Word(_) | Token::Quoted(_)) | None => {
                    return Err(self.err("give the lead and then the new status"))
                }
                Some(Token::Mention(_)) => return Err(self.err("the new status is missing")),
            },
        };
        let status = status.trim().to_lowercase().replace([' ', '-'], "_");
        if status.is_empty() {
            return Err(self.err("the new status is missing"));
        }
        let lead = self.lead_from_all()?;
        Ok(Command::Status { lead, status })
    }

    fn follow_up(&mut self, ctx: &ParseContext) -> Result<Command, UsageError> {
        let tier_pair = self.take_pair(&["tier"]);
        let outcome_pair = self.take_pair(&["outcome", "result"]);
        let when_pair = self.date_pair(&["when", "at", "on", "date", "due"], ctx)?;
        let notes_pair = self.take_pair(&["notes", "note"]);
        let lead = if tier_pair.is_none() {
            self.lead_from_front(|t| t.word().and_then(Tier::from_number).is_some())?
        } else if outcome_pair.is_none() {
            self.lead_from_front(|t| t.word().and_then(FollowUpOutcome::from_word).is_some())?
        } else {
            self.lead_from_front(|_| false)?
        };
        let tier_text = match tier_pair {
            Some(t) => Some(t),
            None if !self.tokens.is_empty() => Some(self.tokens.remove(0).text()),
            None => None,
        };
        let tier = tier_text
            .as_deref()
            .and_then(Tier::from_number)
            .ok_or_else(|| self.err("tier must be 1, 2 or 3"))?;
        let outcome = match outcome_pair {
            Some(o) => FollowUpOutcome::from_word(&o),
            None => self.take_outcome_word(),
        }
        .ok_or_else(|| self.err(format!("outcome must be {}", FollowUpOutcome::WORDS)))?;
        let scheduled_at = match when_pair {
            Some(at) => Some(at),
            None => self.take_date_prefix(ctx),
        };
        let notes = notes_pair.or_else(|| self.rest_text());
        Ok(Command::FollowUp {
            lead,
            follow_up: NewFollowUp {
                tier,
                outcome,
                scheduled_at,
                notes,
            },
        })
    }

    /// A follow-up outcome word at the front, also the two words "no answer".
    fn take_outcome_word(&mut self) -> Option<FollowUpOutcome> {
        let first = self.tokens.first()?.word()?.to_lowercase();
        let second = self
            .tokens
            .get(1)
            .and_then(Token::word)
            .map(str::to_lowercase);
        if first == "no" && second.as_deref() == Some("answer") {
            self.tokens.drain(..2);
            return Some(FollowUpOutcome::NoAnswer);
        }
        let outcome = FollowUpOutcome::from_word(&first)?;
        self.tokens.remove(0);
        Some(outcome)
    }

    fn contact(&mut self) -> Result<Command, UsageError> {
        let mut contact = NewContact {
            name: self.take_pair(&["name"]).unwrap_or_default(),
            position: self.take_pair(&["position", "title", "role"]),
            phone: self.take_pair(&["phone", "tel", "mobile"]),
            email: self.take_pair(&["email", "mail"]),
            linkedin: self.take_pair(&["linkedin", "li"]),
        };
        let lead = self.lead_from_front(|_| false)?;
        let mut name = Vec::new();
        for token in std::mem::take(&mut self.tokens) {
            let text = token.text();
            match token {
                Token::Word(w) if contact.email.is_none() && looks_like_email(&w) => {
                    contact.email = Some(w)
                }
                Token::Word(w) if contact.phone.is_none() && looks_like_phone(&w) => {
                    contact.phone = Some(w)
                }
                Token::Word(w)
                    if contact.linkedin.is_none() && w.to_lowercase().contains("linkedin.com/") =>
                {
                    contact.linkedin = Some(w)
                }
                Token::Pair { key, .. } => {
                    return Err(self.err(format!(
                        "unknown option '{key}=' (known: name, position, phone, email, linkedin)"
                    )))
                }
                _ => name.push(text),
            }
        }
        if contact.name.is_empty() {
            contact.name = name.join(" ");
        }
        if let Some(email) = &contact.email {
            if !looks_like_email(email) {
                return Err(self.err(format!("'{email}' is not an email address")));
            }
        }
        if contact.name.trim().is_empty() {
            return Err(self.err("the contact's name is missing"));
        }
        Ok(Command::Contact { lead, contact })
    }

    fn note(&mut self) -> Result<Command, UsageError> {
        let text_pair = self.take_pair(&["text"]);
        let lead = self.lead_from_front(|_| false)?;
        let text = text_pair
            .or_else(|| self.rest_text())
            .ok_or_else(|| self.err("the note text is missing"))?;
        Ok(Command::Note { lead, text })
    }

    fn call(&mut self) -> Result<Command, UsageError> {
        let outcome_pair = self.take_pair(&["outcome", "result"]);
        let duration_pair = self.take_pair(&["duration", "took"]);
        let notes_pair = self.take_pair(&["notes", "note"]);
        let lead = if outcome_pair.is_none() {
            self.lead_from_front(|t| t.word().is_some_and(is_call_outcome))?
        } else {
            self.lead_from_front(|_| false)?
        };
        let outcome = match outcome_pair {
            Some(o) => o,
            None => self.take_call_outcome().ok_or_else(|| {
                self.err("the outcome is missing (e.g. interested, no_answer, voicemail)")
            })?,
        };
        let outcome = outcome.trim().to_lowercase().replace([' ', '-'], "_");
        let duration_secs = match duration_pair {
            Some(d) => Some(
                dates::parse_duration(&d)
                    .ok_or_else(|| self.err(format!("'{d}' is not a duration like 5m or 1h30m")))?,
            ),
            None => match self
                .tokens
                .first()
                .and_then(Token::word)
                .and_then(dates::parse_duration)
            {
                Some(secs) => {
                    self.tokens.remove(0);
                    Some(secs)
                }
                None => None,
            },
        };
        let notes = notes_pair.or_else(|| self.rest_text());
        Ok(Command::Call {
            lead,
            call: NewCall {
                outcome,
                duration_secs,
                notes,
            },
        })
    }

    /// The outcome at the front: one word, or "not interested" / "no answer".
    fn take_call_outcome(&mut self) -> Option<String> {
        let first = match self.tokens.first()? {
            Token::Word(w) | Token::Quoted(w) => w.to_lowercase(),
            _ => return None,
        };
        let second = self
            .tokens
            .get(1)
            .and_then(Token::word)
            .map(str::to_lowercase);
        let pair = format!("{first}_{}", second.as_deref().unwrap_or_default());
        if second.is_some() && CALL_OUTCOMES.contains(&pair.as_str()) {
            self.tokens.drain(..2);
            return Some(pair);
        }
        self.tokens.remove(0);
        Some(first)
    }

    fn task(&mut self, ctx: &ParseContext) -> Result<Command, UsageError> {
        let mut due = self.date_pair(&["due", "when", "at", "by"], ctx)?;
        let priority = match self.take_pair(&["priority", "prio", "p"]) {
            Some(p) => Priority::from_word(&p)
                .ok_or_else(|| self.err("priority must be low, normal, high or urgent"))?,
            None => Priority::Normal,
        };
        let lead = self.take_lead_pair()?;
        let mut assignee = self
            .take_pair(&["assignee", "assign", "to"])
            .map(|a| a.trim_start_matches('@').to_string());
        let mentions = self.take_mentions();
        match mentions.as_slice() {
            [] => {}
            [one] if assignee.is_none() => assignee = Some(one.clone()),
            _ => return Err(self.err("a task has one assignee; mention one @user")),
        }
        // "due friday" / "by friday" anywhere in the title sets the due date.
        let mut title = Vec::new();
        while !self.tokens.is_empty() {
            let token = self.tokens.remove(0);
            if due.is_none()
                && matches!(
                    token.word().map(str::to_lowercase).as_deref(),
                    Some("due" | "by")
                )
            {
                if let Some(at) = self.take_date_prefix(ctx) {
                    due = Some(at);
                    continue;
                }
            }
            title.push(token.text());
        }
        let title = title.join(" ");
        if title.trim().is_empty() {
            return Err(self.err("the task title is missing"));
        }
        Ok(Command::Task {
            title,
            assignee,
            due,
            priority,
            lead,
        })
    }

    fn tasks(&mut self) -> Result<Command, UsageError> {
        let mut assignee = None;
        let mut status = TaskStatusFilter::Open;
        for token in std::mem::take(&mut self.tokens) {
            match &token {
                Token::Mention(m) if assignee.is_none() => assignee = Some(m.clone()),
                Token::Word(w) => {
                    status = match w.to_lowercase().as_str() {
                        "open" | "todo" => TaskStatusFilter::Open,
                        "done" | "closed" => TaskStatusFilter::Done,
                        "all" => TaskStatusFilter::All,
                        _ => {
                            return Err(self.err(format!(
                                "'{w}' is not a filter; use @user, open, done or all"
                            )))
                        }
                    }
                }
                _ => {
                    return Err(self.err(format!(
                        "'{token}' is not a filter; use @user, open, done or all"
                    )))
                }
            }
        }
        Ok(Command::Tasks { assignee, status })
    }

    fn due(&mut self) -> Result<Command, UsageError> {
        let window = match self.rest_text().map(|t| t.to_lowercase()).as_deref() {
            None | Some("today") => DueWindow::Today,
            Some("overdue") => DueWindow::Overdue,
            Some("week" | "this week") => DueWindow::Week,
            Some(other) => {
                return Err(self.err(format!(
                    "'{other}' is not a window; use today, overdue or week"
                )))
            }
        };
        Ok(Command::Due { window })
    }

    fn assign(&mut self) -> Result<Command, UsageError> {
        let mut user = self
            .take_pair(&["user", "to", "owner"])
            .map(|u| u.trim_start_matches('@').to_string());
        let mentions = self.take_mentions();
        match mentions.as_slice() {
            [] => {}
            [one] if user.is_none() => user = Some(one.clone()),
            _ => return Err(self.err("mention exactly one @user")),
        }
        let user = user
            .filter(|u| !u.is_empty())
            .ok_or_else(|| self.err("who to? mention an @user"))?;
        if self
            .tokens
            .last()
            .and_then(Token::word)
            .is_some_and(|w| w.eq_ignore_ascii_case("to"))
        {
            self.tokens.pop();
        }
        let lead = self.lead_from_all()?;
        Ok(Command::Assign { lead, user })
    }

    fn remind(&mut self, ctx: &ParseContext) -> Result<Command, UsageError> {
        if self
            .tokens
            .first()
            .and_then(Token::word)
            .is_some_and(|w| w.eq_ignore_ascii_case("me"))
        {
            self.tokens.remove(0);
        }
        let at = match self.date_pair(&["at", "when", "on"], ctx)? {
            Some(at) => at,
            None => self.take_date_prefix(ctx).ok_or_else(|| {
                self.err("when? Start with a time like tomorrow 9am, in 2h or monday 14:30")
            })?,
        };
        if at <= ctx.now {
            return Err(self.err("that time has already passed"));
        }
        if self
            .tokens
            .first()
            .and_then(Token::word)
            .is_some_and(|w| w.eq_ignore_ascii_case("to"))
        {
            self.tokens.remove(0);
        }
        let text = self
            .rest_text()
            .ok_or_else(|| self.err("what should I remind you of?"))?;
        Ok(Command::Remind { at, text })
    }

    fn link(&mut self) -> Result<Command, UsageError> {
        match self.tokens.as_slice() {
            [Token::Word(code)] if code.len() <= 64 => Ok(Command::Link { code: code.clone() }),
            [] => Err(self.err("the code is missing; get one in the panel")),
            _ => Err(self.err("give just the code from the panel")),
        }
    }

    fn help(&mut self) -> Result<Command, UsageError> {
        match self.tokens.as_slice() {
            [] => Ok(Command::Help { command: None }),
            [Token::Word(w)] => match CommandName::from_word(w) {
                Some(c) => Ok(Command::Help { command: Some(c) }),
                None => {
                    let shown: String = w.chars().take(32).collect();
                    Err(match catalog::closest(w) {
                        Some(near) => self.err(format!(
                            "there is no /{shown}; did you mean {}?",
                            near.slash()
                        )),
                        None => self.err(format!("there is no /{shown}")),
                    })
                }
            },
            _ => Err(self.err("name one command")),
        }
    }
}

fn join(tokens: &[Token]) -> String {
    tokens.iter().map(Token::text).collect::<Vec<_>>().join(" ")
}

fn bad_date(text: &str) -> String {
    let shown: String = text.chars().take(40).collect();
    format!("I can't read '{shown}' as a date (try tomorrow 10am, next tue, 2026-12-01 15:00, in 3 days)")
}

fn is_call_outcome(word: &str) -> bool {
    let w = word.to_lowercase();
    CALL_OUTCOMES.contains(&w.as_str()) || w == "not" || w == "no"
}

fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && !domain.contains('@') && normalize_domain(domain).is_some()
        }
        None => false,
    }
}

fn looks_like_phone(s: &str) -> bool {
    let digits = s.chars().filter(char::is_ascii_digit).count();
    (s.starts_with('+') || s.starts_with(|c: char| c.is_ascii_digit()))
        && (6..=15).contains(&digits)
        && s.chars()
            .all(|c| c.is_ascii_digit() || "+-()./".contains(c))
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

    fn ok(text: &str) -> Command {
        parse(text, &ctx()).unwrap_or_else(|e| panic!("{text:?} failed: {e}"))
    }

    fn err(text: &str) -> String {
        match parse(text, &ctx()) {
            Ok(c) => panic!("{text:?} should fail, got {c:?}"),
            Err(e) => e.to_string(),
        }
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
    fn the_lead_example_from_the_brief_fills_every_field() {
        assert_eq!(
            ok("/lead Acme Corp acme.com country=DE industry=SaaS @maria"),
            Command::Lead(NewLead {
                company: "Acme Corp".into(),
                website: Some("acme.com".into()),
                industry: Some("SaaS".into()),
                country: Some("DE".into()),
                owner: Some("maria".into()),
                ..NewLead::default()
            })
        );
    }

    #[test]
    fn a_lead_takes_quoted_names_tags_source_and_a_url_website() {
        assert_eq!(
            ok(
                r#"/lead "Acme.io Labs" website=https://www.Acme.io/x industry="Cloud Software" tags=saas,smb source=webinar state=CA country=us"#
            ),
            Command::Lead(NewLead {
                company: "Acme.io Labs".into(),
                website: Some("acme.io".into()),
                industry: Some("Cloud Software".into()),
                country: Some("US".into()),
                state: Some("CA".into()),
                tags: vec!["saas".into(), "smb".into()],
                source: Some("webinar".into()),
                ..NewLead::default()
            })
        );
    }

    #[test]
    fn a_lead_with_an_unknown_option_names_it_and_shows_usage() {
        let e = err("/lead Acme colour=red");
        assert!(e.starts_with("/lead: unknown option 'colour='"), "{e}");
        assert!(e.contains("\nUsage: /lead <company>"), "{e}");
    }

    #[test]
    fn a_lead_without_a_name_is_refused() {
        assert!(err("/lead acme.com").contains("company name is missing"));
        assert!(err("/lead").contains("company name is missing"));
    }

    #[test]
    fn the_telegram_bot_suffix_and_whitespace_are_accepted() {
        assert_eq!(
            ok("  /find@EaCrmBot   acme  \n"),
            Command::Find {
                query: "acme".into()
            }
        );
        assert_eq!(
            ok("/FIND@eacrmbot acme"),
            Command::Find {
                query: "acme".into()
            }
        );
    }

    #[test]
    fn a_command_for_another_bot_is_refused_and_detected() {
        assert!(addressed_to_other_bot("/help@OtherBot", &ctx()));
        assert!(!addressed_to_other_bot("/help@EaCrmBot", &ctx()));
        assert!(!addressed_to_other_bot("/help", &ctx()));
        assert!(err("/help@OtherBot").contains("not to me"));
    }

    #[test]
    fn show_reads_ids_domains_urls_and_multi_word_names() {
        assert_eq!(
            ok("/show #abc123"),
            Command::Show {
                lead: LeadRef::Id("abc123".into())
            }
        );
        assert_eq!(
            ok("/show id=abc123"),
            Command::Show {
                lead: LeadRef::Id("abc123".into())
            }
        );
        assert_eq!(
            ok("/show https://www.ACME.com/pricing"),
            Command::Show {
                lead: LeadRef::Domain("acme.com".into())
            }
        );
        assert_eq!(
            ok("/show Acme Corp"),
            Command::Show {
                lead: name("Acme Corp")
            }
        );
        assert!(err("/show").contains("which lead?"));
    }

    #[test]
    fn status_takes_the_last_word_as_the_status() {
        assert_eq!(
            ok("/status Acme Corp Qualified"),
            Command::Status {
                lead: name("Acme Corp"),
                status: "qualified".into()
            }
        );
        assert_eq!(
            ok(r#"/status acme.com "closed won""#),
            Command::Status {
                lead: LeadRef::Domain("acme.com".into()),
                status: "closed_won".into()
            }
        );
        assert!(err("/status won").contains("give the lead and then the new status"));
    }

    #[test]
    fn followup_reads_tier_outcome_date_and_notes() {
        assert_eq!(
            ok("/followup Acme Corp 2 replied next tue asked for pricing"),
            Command::FollowUp {
                lead: name("Acme Corp"),
                follow_up: NewFollowUp {
                    tier: Tier::Second,
                    outcome: FollowUpOutcome::Replied,
                    scheduled_at: Some(utc("2026-12-01T08:00:00Z")),
                    notes: Some("asked for pricing".into()),
                },
            }
        );
    }

    #[test]
    fn followup_accepts_keys_and_the_two_words_no_answer() {
        assert_eq!(
            ok("/fu acme.com 1 no answer"),
            Command::FollowUp {
                lead: LeadRef::Domain("acme.com".into()),
                follow_up: NewFollowUp {
                    tier: Tier::First,
                    outcome: FollowUpOutcome::NoAnswer,
                    scheduled_at: None,
                    notes: None,
                },
            }
        );
        assert_eq!(
            ok(r#"/followup "Acme Corp" tier=3 outcome=done when="dec 1 10:00" notes="sent deck""#),
            Command::FollowUp {
                lead: name("Acme Corp"),
                follow_up: NewFollowUp {
                    tier: Tier::Third,
                    outcome: FollowUpOutcome::Done,
                    scheduled_at: Some(utc("2026-12-01T09:00:00Z")),
                    notes: Some("sent deck".into()),
                },
            }
        );
    }

    #[test]
    fn a_bad_tier_reply_names_the_problem_and_the_usage() {
        assert_eq!(
            err("/followup Acme 5 done"),
            "/followup: tier must be 1, 2 or 3\nUsage: /followup <lead> <tier 1-3> <outcome> [when] [notes]"
        );
    }

    #[test]
    fn a_bad_outcome_lists_the_allowed_ones() {
        assert!(err("/followup Acme 2 maybe")
            .contains("outcome must be pending, done, no_answer, replied or skipped"));
    }

    #[test]
    fn an_unreadable_date_key_is_refused_with_examples() {
        assert!(
            err("/followup Acme 1 done when=someday").contains("can't read 'someday' as a date")
        );
    }

    #[test]
    fn contact_recognises_email_phone_and_linkedin_by_shape() {
        assert_eq!(
            ok(
                r#"/contact acme.com "Jane Doe" position=CTO jane@acme.com +49-30-1234567 https://linkedin.com/in/jane"#
            ),
            Command::Contact {
                lead: LeadRef::Domain("acme.com".into()),
                contact: NewContact {
                    name: "Jane Doe".into(),
                    position: Some("CTO".into()),
                    phone: Some("+49-30-1234567".into()),
                    email: Some("jane@acme.com".into()),
                    linkedin: Some("https://linkedin.com/in/jane".into()),
                },
            }
        );
        assert!(err("/contact acme.com email=nope").contains("'nope' is not an email address"));
        assert!(err("/contact acme.com").contains("name is missing"));
    }

    #[test]
    fn note_ends_a_multi_word_lead_at_a_colon() {
        assert_eq!(
            ok("/note Acme Corp: budget approved, don't call before 10"),
            Command::Note {
                lead: name("Acme Corp"),
                text: "budget approved, don't call before 10".into()
            }
        );
        assert_eq!(
            ok("/note acme.com spoke to Jane"),
            Command::Note {
                lead: LeadRef::Domain("acme.com".into()),
                text: "spoke to Jane".into()
            }
        );
        assert!(err("/note acme.com").contains("note text is missing"));
    }

    #[test]
    fn call_ends_a_multi_word_lead_at_a_known_outcome_and_reads_a_duration() {
        assert_eq!(
            ok("/call Acme Corp not interested 1h30m budget frozen"),
            Command::Call {
                lead: name("Acme Corp"),
                call: NewCall {
                    outcome: "not_interested".into(),
                    duration_secs: Some(5_400),
                    notes: Some("budget frozen".into()),
                },
            }
        );
        assert_eq!(
            ok("/call acme.com outcome=interested"),
            Command::Call {
                lead: LeadRef::Domain("acme.com".into()),
                call: NewCall {
                    outcome: "interested".into(),
                    duration_secs: None,
                    notes: None
                },
            }
        );
        assert!(err("/call acme.com").contains("outcome is missing"));
        assert!(err("/call acme.com busy duration=forever").contains("not a duration"));
    }

    #[test]
    fn task_reads_assignee_due_priority_and_lead() {
        assert_eq!(
            ok("/task Send proposal @maria due friday 3pm priority=high lead=acme.com"),
            Command::Task {
                title: "Send proposal".into(),
                assignee: Some("maria".into()),
                due: Some(utc("2026-12-04T14:00:00Z")),
                priority: Priority::High,
                lead: Some(LeadRef::Domain("acme.com".into())),
            }
        );
        assert_eq!(
            ok("/task sign by hand"),
            Command::Task {
                title: "sign by hand".into(),
                assignee: None,
                due: None,
                priority: Priority::Normal,
                lead: None,
            }
        );
        assert!(
            err("/task x priority=asap").contains("priority must be low, normal, high or urgent")
        );
        assert!(err("/task @maria").contains("title is missing"));
    }

    #[test]
    fn tasks_and_due_take_optional_filters() {
        assert_eq!(
            ok("/tasks @maria done"),
            Command::Tasks {
                assignee: Some("maria".into()),
                status: TaskStatusFilter::Done
            }
        );
        assert_eq!(
            ok("/tasks"),
            Command::Tasks {
                assignee: None,
                status: TaskStatusFilter::Open
            }
        );
        assert_eq!(
            ok("/due"),
            Command::Due {
                window: DueWindow::Today
            }
        );
        assert_eq!(
            ok("/due Week"),
            Command::Due {
                window: DueWindow::Week
            }
        );
        assert!(err("/due someday").contains("use today, overdue or week"));
        assert!(err("/tasks later").contains("is not a filter"));
    }

    #[test]
    fn assign_takes_the_mention_and_the_rest_as_the_lead() {
        assert_eq!(
            ok("/assign Acme Corp to @maria"),
            Command::Assign {
                lead: name("Acme Corp"),
                user: "maria".into()
            }
        );
        assert!(err("/assign Acme").contains("mention an @user"));
    }

    #[test]
    fn remind_reads_the_time_then_the_text() {
        assert_eq!(
            ok("/remind tomorrow 9am call Acme back"),
            Command::Remind {
                at: utc("2026-11-28T08:00:00Z"),
                text: "call Acme back".into()
            }
        );
        assert_eq!(
            ok("/remind me in 2h to check the inbox"),
            Command::Remind {
                at: utc("2026-11-27T11:00:00Z"),
                text: "check the inbox".into()
            }
        );
        assert!(err("/remind call Acme").contains("when?"));
        assert!(err("/remind tomorrow").contains("what should I remind you of?"));
        assert!(err("/remind today call").contains("already passed"));
    }

    #[test]
    fn link_and_help() {
        assert_eq!(
            ok("/link 7KQ2-M9XD"),
            Command::Link {
                code: "7KQ2-M9XD".into()
            }
        );
        assert!(err("/link").contains("code is missing"));
        assert_eq!(ok("/help"), Command::Help { command: None });
        assert_eq!(
            ok("/help fu"),
            Command::Help {
                command: Some(CommandName::FollowUp)
            }
        );
        assert_eq!(ok("/start"), Command::Help { command: None });
        assert!(err("/help folowup").contains("did you mean /followup?"));
    }

    #[test]
    fn an_unknown_command_suggests_the_closest_with_its_usage() {
        assert_eq!(
            err("/folowup Acme 1 done"),
            "/folowup: unknown command, did you mean /followup?\nUsage: /followup <lead> <tier 1-3> <outcome> [when] [notes]"
        );
        assert_eq!(
            err("/xyzzyplugh"),
            "/xyzzyplugh: unknown command\nUsage: /help"
        );
    }

    #[test]
    fn every_example_in_the_catalogue_parses_as_its_own_command() {
        for spec in catalog::COMMANDS {
            let command = parse(spec.example, &ctx())
                .unwrap_or_else(|e| panic!("example {:?} fails: {e}", spec.example));
            assert_eq!(command.name(), spec.name, "{}", spec.example);
        }
    }

    #[test]
    fn plain_text_and_oversized_messages_are_refused() {
        assert!(err("hello").contains("Commands start with /"));
        assert!(err(&format!("/find {}", "a".repeat(MAX_INPUT_CHARS))).contains("too long"));
    }
}
