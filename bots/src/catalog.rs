//! The command catalogue: every command's name, summary, usage and example, in one
//! table.
//!
//! Promises: `/help`, `/help <command>`, usage errors and the Telegram
//! `setMyCommands` list are all derived from [`COMMANDS`], so adding a command here
//! is the only place its documentation is written.

use serde::{Deserialize, Serialize};

use crate::crm::{Part, PartsOff};

/// Which command a message names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CommandName {
    Lead,
    Find,
    Show,
    Status,
    FollowUp,
    Contact,
    Note,
    Call,
    Task,
    Tasks,
    Due,
    Assign,
    Remind,
    Link,
    Help,
}

/// One row of the catalogue.
#[derive(Debug)]
pub struct CommandSpec {
    pub name: CommandName,
    /// What the user types after `/`.
    pub word: &'static str,
    /// Other words accepted for the same command.
    pub aliases: &'static [&'static str],
    /// One line for menus (Telegram allows 3–256 characters).
    pub summary: &'static str,
    /// The usage line shown in help and in usage errors.
    pub usage: &'static str,
    pub example: &'static str,
    /// The switchable part the command belongs to, if any: while it is off
    /// the command is left out of `/help` and refused.
    pub part: Option<Part>,
}

/// Every command, in the order menus and `/help` show them.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: CommandName::Lead,
        word: "lead",
        aliases: &["newlead"],
        summary: "Create a lead",
        usage: "/lead <company> [website] [country=] [industry=] [state=] [@owner] [tags=a,b] [source=]",
        example: "/lead Acme Corp acme.com country=DE industry=SaaS @maria",
        part: None,
    },
    CommandSpec {
        name: CommandName::Find,
        word: "find",
        aliases: &["search"],
        summary: "Search leads",
        usage: "/find <text>",
        example: "/find acme",
        part: None,
    },
    CommandSpec {
        name: CommandName::Show,
        word: "show",
        aliases: &["card"],
        summary: "Show a lead card",
        usage: "/show <lead>",
        example: "/show acme.com",
        part: None,
    },
    CommandSpec {
        name: CommandName::Status,
        word: "status",
        aliases: &[],
        summary: "Change a lead's status",
        usage: "/status <lead> <new status>",
        example: "/status \"Acme Corp\" qualified",
        part: None,
    },
    CommandSpec {
        name: CommandName::FollowUp,
        word: "followup",
        aliases: &["fu", "follow-up", "follow_up"],
        summary: "Log a follow-up (tier 1-3)",
        usage: "/followup <lead> <tier 1-3> <outcome> [when] [notes]",
        example: "/followup acme.com 2 replied next tue asked for pricing",
        part: None,
    },
    CommandSpec {
        name: CommandName::Contact,
        word: "contact",
        aliases: &[],
        summary: "Add a contact to a lead",
        usage: "/contact <lead> <name> [position=] [phone=] [email=] [linkedin=]",
        example: "/contact acme.com \"Jane Doe\" position=CTO jane@acme.com +49301234567",
        part: None,
    },
    CommandSpec {
        name: CommandName::Note,
        word: "note",
        aliases: &[],
        summary: "Add a note to a lead",
        usage: "/note <lead>: <text>",
        example: "/note Acme Corp: budget approved for Q1",
        part: None,
    },
    CommandSpec {
        name: CommandName::Call,
        word: "call",
        aliases: &[],
        summary: "Log a call",
        usage: "/call <lead> <outcome> [duration like 5m or 1h30m] [notes]",
        example: "/call acme.com interested 15m wants a demo",
        part: None,
    },
    CommandSpec {
        name: CommandName::Task,
        word: "task",
        aliases: &["todo"],
        summary: "Create a task",
        usage: "/task <title> [@assignee] [due <when>] [priority=low|normal|high|urgent] [lead=]",
        example: "/task Send proposal @maria due friday priority=high lead=acme.com",
        part: None,
    },
    CommandSpec {
        name: CommandName::Tasks,
        word: "tasks",
        aliases: &[],
        summary: "List tasks",
        usage: "/tasks [@user] [open|done|all]",
        example: "/tasks @maria open",
        part: None,
    },
    CommandSpec {
        name: CommandName::Due,
        word: "due",
        aliases: &["agenda"],
        summary: "My follow-ups and tasks due",
        usage: "/due [today|overdue|week]",
        example: "/due week",
        part: None,
    },
    CommandSpec {
        name: CommandName::Assign,
        word: "assign",
        aliases: &[],
        summary: "Assign a lead to someone",
        usage: "/assign <lead> @user",
        example: "/assign acme.com @maria",
        part: None,
    },
    CommandSpec {
        name: CommandName::Remind,
        word: "remind",
        aliases: &["reminder"],
        summary: "Set a reminder",
        usage: "/remind <when> <text>",
        example: "/remind tomorrow 9am call Acme back",
        part: Some(Part::Chat),
    },
    CommandSpec {
        name: CommandName::Link,
        word: "link",
        aliases: &[],
        summary: "Link this chat account to your CRM user",
        usage: "/link <CODE>",
        example: "/link 7KQ2-M9XD",
        part: None,
    },
    CommandSpec {
        name: CommandName::Help,
        word: "help",
        aliases: &["start"],
        summary: "List commands or explain one",
        usage: "/help [command]",
        example: "/help followup",
        part: None,
    },
];

impl CommandName {
    /// This command's row in [`COMMANDS`].
    pub fn spec(self) -> &'static CommandSpec {
        // The table has a row for every variant; a test checks it.
        COMMANDS
            .iter()
            .find(|s| s.name == self)
            .unwrap_or(&COMMANDS[COMMANDS.len() - 1])
    }

    /// The command a word names (`followup`, `/fu`, `Lead`), if any.
    pub fn from_word(word: &str) -> Option<Self> {
        let word = word.trim_start_matches('/').to_lowercase();
        COMMANDS
            .iter()
            .find(|s| s.word == word || s.aliases.contains(&word.as_str()))
            .map(|s| s.name)
    }

    /// The usage line.
    pub fn usage(self) -> &'static str {
        self.spec().usage
    }

    /// `/word`.
    pub fn slash(self) -> String {
        format!("/{}", self.spec().word)
    }

    /// The switched-off part this command needs, if `off` holds it.
    pub fn switched_off(self, off: PartsOff) -> Option<Part> {
        self.spec().part.filter(|p| off.contains(*p))
    }

    /// Whether the command works before the chat account is linked.
    pub fn works_unlinked(self) -> bool {
        matches!(self, CommandName::Link | CommandName::Help)
    }
}

/// `(name, summary)` pairs for Telegram's `setMyCommands` and Discord's menus.
pub fn command_list() -> Vec<(&'static str, &'static str)> {
    COMMANDS.iter().map(|s| (s.word, s.summary)).collect()
}

/// The `/help` reply: one line per command, leaving out those of parts that
/// are switched off. Plain words are always read (by the local rules while
/// the model's intent detection is off), so their hint always shows.
pub fn help_text(off: PartsOff) -> String {
    let mut out = String::from("Commands:\n");
    for s in COMMANDS
        .iter()
        .filter(|s| s.part.is_none_or(|p| !off.contains(p)))
    {
        out.push_str(&format!("/{} - {}\n", s.word, s.summary));
    }
    out.push_str("\nSend /help <command> for details, or mention me in plain words.");
    out
}

/// The `/help <command>` reply.
pub fn help_for(name: CommandName, off: PartsOff) -> String {
    if let Some(part) = name.switched_off(off) {
        return crate::replies::switched_off(part.name());
    }
    let s = name.spec();
    format!(
        "/{} - {}\nUsage: {}\nExample: {}",
        s.word, s.summary, s.usage, s.example
    )
}

/// The known command closest to `word` in edit distance, if it is close enough to
/// be a typo (at most 2 edits, or a prefix of a command).
pub fn closest(word: &str) -> Option<CommandName> {
    let word = word.trim_start_matches('/').to_lowercase();
    if word.is_empty() || word.chars().count() > 32 {
        return None;
    }
    let (best, distance) = COMMANDS
        .iter()
        .flat_map(|s| {
            std::iter::once(s.word)
                .chain(s.aliases.iter().copied())
                .map(move |w| (s.name, w))
        })
        .map(|(name, w)| {
            let d = if w.starts_with(&word) {
                1
            } else {
                edit_distance(&word, w)
            };
            (name, d)
        })
        .min_by_key(|(_, d)| *d)?;
    (distance <= 2).then_some(best)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut row = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = prev[j] + usize::from(ca != *cb);
            row[j + 1] = substitution.min(prev[j + 1] + 1).min(row[j] + 1);
        }
        prev = row;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_name_has_exactly_one_row() {
        let all = [
            CommandName::Lead,
            CommandName::Find,
            CommandName::Show,
            CommandName::Status,
            CommandName::FollowUp,
            CommandName::Contact,
            CommandName::Note,
            CommandName::Call,
            CommandName::Task,
            CommandName::Tasks,
            CommandName::Due,
            CommandName::Assign,
            CommandName::Remind,
            CommandName::Link,
            CommandName::Help,
        ];
        assert_eq!(COMMANDS.len(), all.len());
        for name in all {
            assert_eq!(
                COMMANDS.iter().filter(|s| s.name == name).count(),
                1,
                "{name:?}"
            );
            assert_eq!(name.spec().name, name);
        }
    }

    #[test]
    fn the_menu_fits_telegram_rules() {
        for (word, summary) in command_list() {
            assert!(word.len() <= 32 && word.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            assert!((3..=256).contains(&summary.len()), "{word}");
        }
    }

    #[test]
    fn every_usage_line_starts_with_its_command() {
        for s in COMMANDS {
            assert!(s.usage.starts_with(&format!("/{}", s.word)), "{}", s.word);
            assert!(s.example.starts_with(&format!("/{}", s.word)), "{}", s.word);
        }
    }

    #[test]
    fn help_lists_every_command_and_help_for_one_shows_its_usage() {
        let help = help_text(PartsOff::default());
        for s in COMMANDS {
            assert!(help.contains(&format!("/{} - ", s.word)));
        }
        assert!(help.contains("mention me in plain words"));
        assert!(help_for(CommandName::FollowUp, PartsOff::default())
            .contains("Usage: /followup <lead> <tier 1-3> <outcome> [when] [notes]"));
    }

    #[test]
    fn help_leaves_out_what_is_switched_off() {
        let no_chat = help_text(PartsOff {
            chat: true,
            intent: false,
        });
        assert!(!no_chat.contains("/remind"), "{no_chat}");
        assert!(no_chat.contains("/followup - "));
        assert!(help_for(
            CommandName::Remind,
            PartsOff {
                chat: true,
                intent: false
            }
        )
        .contains("Chat is switched off"));
        let no_intent = help_text(PartsOff {
            chat: false,
            intent: true,
        });
        assert!(no_intent.contains("/remind - "));
        // Without the model the local rules still read plain words.
        assert!(no_intent.contains("plain words"), "{no_intent}");
    }

    #[test]
    fn aliases_and_case_find_the_command() {
        assert_eq!(CommandName::from_word("FU"), Some(CommandName::FollowUp));
        assert_eq!(
            CommandName::from_word("/follow-up"),
            Some(CommandName::FollowUp)
        );
        assert_eq!(CommandName::from_word("start"), Some(CommandName::Help));
        assert_eq!(CommandName::from_word("nope"), None);
    }

    #[test]
    fn typos_suggest_the_nearest_command() {
        assert_eq!(closest("folowup"), Some(CommandName::FollowUp));
        assert_eq!(closest("taks"), Some(CommandName::Tasks));
        assert_eq!(closest("remin"), Some(CommandName::Remind));
        assert_eq!(closest("xyzzyplugh"), None);
    }
}
