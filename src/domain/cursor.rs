//! The `after` cursor of every list: the last item's sort key, URL-safe
//! base64, so clients treat it as opaque and a page is a range scan from it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

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
        .ok_or_else(|| DomainError::invalid("after", "is not a cursor from a previous page"))
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
}
