//! The OpenAPI document as a tree that keeps its objects' keys in order, for
//! the steps that amend what poem-openapi wrote (`webhook_doc`,
//! `request_nulls`) without reshuffling the served document.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A JSON document read with its objects' keys in their order.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
pub enum Node {
    Object(IndexMap<String, Node>),
    Array(Vec<Node>),
    Leaf(Value),
}

impl Node {
    /// Reads a document.
    ///
    /// # Panics
    /// When `text` is not JSON: the document is written by poem-openapi when
    /// the routes are built, and every test starts the real routes.
    pub fn parse(text: &str) -> Node {
        serde_json::from_str(text).expect("poem-openapi writes JSON")
    }

    pub fn to_text(&self) -> String {
        serde_json::to_string_pretty(self).expect("a JSON tree serializes")
    }

    /// The object at `path`, if there is one.
    pub fn object(&mut self, path: &[&str]) -> Option<&mut IndexMap<String, Node>> {
        let mut here = self;
        for key in path {
            let Node::Object(map) = here else {
                return None;
            };
            here = map.get_mut(*key)?;
        }
        match here {
            Node::Object(map) => Some(map),
            _ => None,
        }
    }

    /// Every `$ref` below this node, in document order.
    pub fn refs(&self, into: &mut Vec<String>) {
        match self {
            Node::Object(map) => {
                for (key, value) in map {
                    match value {
                        Node::Leaf(Value::String(target)) if key == "$ref" => {
                            into.push(target.clone())
                        }
                        other => other.refs(into),
                    }
                }
            }
            Node::Array(items) => items.iter().for_each(|item| item.refs(into)),
            Node::Leaf(value) => leaf_refs(value, into),
        }
    }
}

/// `$ref`s inside a leaf: arrays of scalars land here, and so can objects
/// that the untagged reading took whole.
fn leaf_refs(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match value {
                    Value::String(target) if key == "$ref" => into.push(target.clone()),
                    other => leaf_refs(other, into),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| leaf_refs(item, into)),
        _ => {}
    }
}
