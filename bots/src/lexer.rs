//! Splits the argument part of a command into tokens.
//!
//! Promises: every input yields tokens (there is no lexing error); a quote that is
//! never closed is kept as a literal character, because chat users type apostrophes
//! ("don't", "'cause") far more often than they mean to open a quoted string.
//! Quotes may be straight (`"…"`, `'…'`) or the typographic ones that phone
//! keyboards substitute (`“…”`, `‘…’`, `«…»`); a backslash escapes the next character.

use std::fmt;

/// One argument of a command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    /// A bare word, as typed.
    Word(String),
    /// A quoted string, quotes removed and escapes resolved.
    Quoted(String),
    /// `key=value` or `key="quoted value"`; the key is lower-cased.
    Pair { key: String, value: String },
    /// `@user`, without the `@` and without trailing punctuation.
    Mention(String),
}

impl Token {
    /// The text a free-text field should see for this token.
    pub fn text(&self) -> String {
        self.to_string()
    }

    /// A bare word, if this token is one.
    pub fn word(&self) -> Option<&str> {
        match self {
            Token::Word(w) => Some(w),
            _ => None,
        }
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Word(w) | Token::Quoted(w) => f.write_str(w),
            Token::Pair { key, value } => write!(f, "{key}={value}"),
            Token::Mention(m) => write!(f, "@{m}"),
        }
    }
}

/// The closing quote for an opening quote character, if it is one.
fn closing_quote(c: char) -> Option<char> {
    match c {
        '"' => Some('"'),
        '\'' => Some('\''),
        '“' | '„' => Some('”'),
        '‘' => Some('’'),
        '«' => Some('»'),
        _ => None,
    }
}

/// Reads a quoted string starting just after the opening quote at `chars[start-1]`.
/// Returns the content and the index after the closing quote, or `None` when the
/// quote is never closed.
fn read_quoted(chars: &[char], start: usize, close: char) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut i = start;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            out.push(match chars[i + 1] {
                'n' => '\n',
                't' => '\t',
                other => other,
            });
            i += 2;
            continue;
        }
        if c == close {
            return Some((out, i + 1));
        }
        out.push(c);
        i += 1;
    }
    None
}

fn is_key(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Strips punctuation that ends a sentence or a list item, not part of a name.
pub fn trim_punct(s: &str) -> &str {
    s.trim_end_matches([',', '.', ';', ':', '!', '?', ')'])
}

/// A username as chat platforms allow it: letters, digits, `_`, `.`, `-`.
fn is_username(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '-')
}

/// Splits `input` into tokens. Never fails; see the module docs.
pub fn tokenize(input: &str) -> Vec<Token> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        if let Some(close) = closing_quote(chars[i]) {
            if let Some((text, next)) = read_quoted(&chars, i + 1, close) {
                tokens.push(Token::Quoted(text));
                i = next;
                continue;
            }
        }
        // A bare word, which may turn into key="quoted value".
        let start = i;
        let mut word = String::new();
        while i < chars.len() && !chars[i].is_whitespace() {
            let c = chars[i];
            if c == '=' && is_key(&word) && i + 1 < chars.len() {
                if let Some(close) = closing_quote(chars[i + 1]) {
                    if let Some((value, next)) = read_quoted(&chars, i + 2, close) {
                        tokens.push(Token::Pair {
                            key: word.to_lowercase(),
                            value,
                        });
                        word.clear();
                        i = next;
                        break;
                    }
                }
            }
            word.push(c);
            i += 1;
        }
        if word.is_empty() && i > start {
            continue;
        }
        tokens.push(classify(word));
    }
    tokens
}

fn classify(word: String) -> Token {
    if let Some(rest) = word.strip_prefix('@') {
        let name = trim_punct(rest);
        if is_username(name) {
            return Token::Mention(name.to_string());
        }
    }
    if let Some((key, value)) = word.split_once('=') {
        if is_key(key) {
            return Token::Pair {
                key: key.to_lowercase(),
                value: value.to_string(),
            };
        }
    }
    Token::Word(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Token {
        Token::Word(s.into())
    }

    #[test]
    fn words_mentions_and_pairs_are_told_apart() {
        assert_eq!(
            tokenize("  Acme Corp acme.com country=DE @maria, "),
            vec![
                w("Acme"),
                w("Corp"),
                w("acme.com"),
                Token::Pair {
                    key: "country".into(),
                    value: "DE".into()
                },
                Token::Mention("maria".into()),
            ]
        );
    }

    #[test]
    fn double_single_and_typographic_quotes_group_words() {
        assert_eq!(
            tokenize(r#""Acme Corp" 'Beta Ltd' “Gamma GmbH”"#),
            vec![
                Token::Quoted("Acme Corp".into()),
                Token::Quoted("Beta Ltd".into()),
                Token::Quoted("Gamma GmbH".into()),
            ]
        );
    }

    #[test]
    fn backslash_escapes_a_quote_inside_a_quoted_string() {
        assert_eq!(
            tokenize(r#""say \"hi\"\\""#),
            vec![Token::Quoted(r#"say "hi"\"#.into())]
        );
    }

    #[test]
    fn a_key_may_take_a_quoted_value() {
        assert_eq!(
            tokenize(r#"Industry="Cloud Software" x"#),
            vec![
                Token::Pair {
                    key: "industry".into(),
                    value: "Cloud Software".into()
                },
                w("x")
            ]
        );
    }

    #[test]
    fn an_unclosed_quote_is_kept_as_a_literal_apostrophe() {
        assert_eq!(tokenize("don't 'cause"), vec![w("don't"), w("'cause")]);
        assert_eq!(tokenize("\"open"), vec![w("\"open")]);
    }

    #[test]
    fn an_email_is_a_word_not_a_mention_and_a_lone_at_is_a_word() {
        assert_eq!(
            tokenize("jane@acme.com @"),
            vec![w("jane@acme.com"), w("@")]
        );
    }

    #[test]
    fn equals_signs_without_a_key_stay_words() {
        assert_eq!(tokenize("=== =x 1=2"), vec![w("==="), w("=x"), w("1=2")]);
    }
}
