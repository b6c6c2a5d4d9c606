//! The `after` cursor of every list: the last item's sort key, URL-safe
//! base64, so clients treat it as opaque and a page is a range scan from it.
//! A cursor that no page gave out is a malformed request (400
//! `bad_request`), whichever list it is sent to.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};

use super::clock::db_time;
use super::error::{DomainError, DomainResult};

/// Longer than any sort key a list writes (the lead sorts carry a field
/// and the id).
const MAX_KEY_LEN: usize = 600;

pub fn encode(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key)
}

/// The sort key a cursor from `encode` holds; anything else is refused as
/// the `after` parameter.
pub fn decode(raw: &str) -> DomainResult<String> {
    URL_SAFE_NO_PAD
        .decode(raw.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|s| !s.is_empty() && s.len() < MAX_KEY_LEN)
        .ok_or_else(not_a_cursor)
}

/// A page of a list and the cursor of the next, absent on the last page.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page from up to `limit + 1` items in list order: the extra one
    /// only says that there is a next page, whose cursor `key` makes from
    /// this page's last item.
    pub fn from_one_more(mut items: Vec<T>, limit: usize, key: impl Fn(&T) -> String) -> Self {
        let more = items.len() > limit;
        items.truncate(limit);
        let next_cursor = more.then(|| items.last().map(key)).flatten();
        Page { items, next_cursor }
    }
}

/// What a list answers for an `after` that no page of it gave out.
pub fn not_a_cursor() -> DomainError {
    DomainError::Malformed {
        field: "after",
        reason: "is not a cursor from a previous page".into(),
    }
}

/// The cursor of a list ordered by time, then by id: the last item's
/// time and id.
pub fn encode_at(at: DateTime<Utc>, id: &str) -> String {
    encode(&format!("{}|{id}", db_time(at)))
}

/// The time and id an `encode_at` cursor holds.
pub fn decode_at(raw: &str) -> DomainResult<(DateTime<Utc>, String)> {
    let key = decode(raw)?;
    key.split_once('|')
        .and_then(|(at, id)| {
            let at = DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc);
            (!id.is_empty()).then(|| (at, id.to_string()))
        })
        .ok_or_else(not_a_cursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_gives_back_its_key_and_nothing_else_is_taken() {
        assert_eq!(decode(&encode("acme|0193")).unwrap(), "acme|0193");
        for bad in ["", "%%%", "not a cursor!"] {
            assert!(decode(bad).is_err(), "{bad}");
        }
        assert!(decode(&encode(&"x".repeat(MAX_KEY_LEN))).is_err());
    }

    #[test]
    fn a_page_has_a_next_cursor_only_when_there_is_more() {
        let page = Page::from_one_more(vec![1, 2, 3], 2, |n| encode(&n.to_string()));
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(decode(&page.next_cursor.unwrap()).unwrap(), "2");
        let last = Page::from_one_more(vec![1, 2], 2, |n| encode(&n.to_string()));
        assert!(last.next_cursor.is_none());
    }

    #[test]
    fn a_time_cursor_gives_back_its_time_and_id() {
        let at = DateTime::parse_from_rfc3339("2026-05-01T09:00:00.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(decode_at(&encode_at(at, "n1")).unwrap(), (at, "n1".into()));
        assert!(decode_at(&encode("no bar")).is_err());
        assert!(decode_at(&encode("yesterday|n1")).is_err());
        assert!(matches!(
            decode_at("!!"),
            Err(DomainError::Malformed { field: "after", .. })
        ));
    }
}
