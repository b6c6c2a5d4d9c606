//! A task's checklist: short items ticked off one by one. The whole list is
//! sent on each change, so an item keeps its id across edits and reorders.

use serde::{Deserialize, Serialize};

use crate::domain::error::{DomainError, DomainResult};
use crate::domain::tokens;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChecklistItem {
    pub id: String,
    pub text: String,
    pub done: bool,
}

/// An item as sent by a client: no id means a new item.
#[derive(Debug, Clone)]
pub struct ChecklistInput {
    pub id: Option<String>,
    pub text: String,
    pub done: bool,
}

pub const MAX_ITEMS: usize = 100;

pub fn parse(items: Vec<ChecklistInput>) -> DomainResult<Vec<ChecklistItem>> {
    if items.len() > MAX_ITEMS {
        return Err(DomainError::invalid(
            "checklist",
            format!("at most {MAX_ITEMS} items"),
        ));
    }
    let mut out: Vec<ChecklistItem> = Vec::with_capacity(items.len());
    for item in items {
        let text = item.text.trim();
        if text.is_empty() || text.chars().count() > 300 {
            return Err(DomainError::invalid(
                "checklist",
                "each item needs 1 to 300 characters",
            ));
        }
        let id = item
            .id
            .map(|i| i.trim().to_string())
            .filter(|i| !i.is_empty() && i.len() <= 64)
            .unwrap_or_else(tokens::new_id);
        if out.iter().any(|o| o.id == id) {
            return Err(DomainError::invalid("checklist", "item ids repeat"));
        }
        out.push(ChecklistItem {
            id,
            text: text.to_string(),
            done: item.done,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_items_get_ids_and_known_ones_keep_theirs() {
        let items = parse(vec![
            ChecklistInput {
                id: Some("a".into()),
                text: " cut ".into(),
                done: true,
            },
            ChecklistInput {
                id: None,
                text: "paint".into(),
                done: false,
            },
        ])
        .unwrap();
        assert_eq!(items[0].id, "a");
        assert_eq!(items[0].text, "cut");
        assert!(!items[1].id.is_empty());
    }

    #[test]
    fn empty_items_are_refused() {
        assert!(parse(vec![ChecklistInput {
            id: None,
            text: " ".into(),
            done: false
        }])
        .is_err());
    }
}
