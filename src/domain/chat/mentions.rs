//! Finding `@username`, `@here` and `@all` in a message body.

use std::collections::BTreeSet;

/// Who a message calls out.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Mentions {
    /// Lower-cased usernames, without the `@`.
    pub usernames: BTreeSet<String>,
    /// `@here` or `@all`: every member of the room.
    pub everyone: bool,
}

/// A mention starts at `@` at the start of the text or after a character
/// that cannot be part of a word or an address (so `a@b.com` is not one),
/// and runs over the characters a username may hold. A trailing `.` or `-`
/// is punctuation ("thanks @ann.").
pub fn parse(body: &str) -> Mentions {
    let mut found = Mentions::default();
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i] == '@'
            && (i == 0 || !(chars[i - 1].is_alphanumeric() || "._-@".contains(chars[i - 1])));
        if !starts {
            i += 1;
            continue;
        }
        let mut end = i + 1;
        while end < chars.len()
            && (chars[end].is_ascii_alphanumeric() || "._-".contains(chars[end]))
        {
            end += 1;
        }
        let name: String = chars[i + 1..end].iter().collect::<String>();
        let name = name.trim_end_matches(['.', '-', '_']).to_ascii_lowercase();
        match name.as_str() {
            "here" | "all" => found.everyone = true,
            n if (3..=32).contains(&n.len()) => {
                found.usernames.insert(name);
            }
            _ => {}
        }
        i = end.max(i + 1);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_found_lower_cased_without_trailing_punctuation() {
        let m = parse("@Ann can you call them? cc @bob.smith.");
        assert_eq!(
            m.usernames.into_iter().collect::<Vec<_>>(),
            ["ann", "bob.smith"]
        );
        assert!(!m.everyone);
    }

    #[test]
    fn email_addresses_and_short_names_are_not_mentions() {
        let m = parse("write to sales@example.com or @x");
        assert!(m.usernames.is_empty());
    }

    #[test]
    fn here_and_all_call_everyone() {
        assert!(parse("@here standup").everyone);
        assert!(parse("ping (@all)").everyone);
    }
}
