//! The request-limit headers as the document shows them: every answer of
//! every operation carries `RateLimit-Limit`, `RateLimit-Remaining` and
//! `RateLimit-Reset` (`middleware::around` writes them on all of them,
//! errors included), and every 429 says when to come back in
//! `Retry-After`. The headers are declared once under
//! `components/headers` and each answer refers to them.

use indexmap::IndexMap;
use serde_json::json;

use super::doc_tree::Node;

/// Each header with what it says.
const HEADERS: &[(&str, &str)] = &[
    (
        "RateLimit-Limit",
        "Requests allowed in the current window (per minute) for the tightest limit this request counted against: its address's or, once authenticated, its credential's.",
    ),
    (
        "RateLimit-Remaining",
        "Requests left in that window; 0 when this one was refused with 429.",
    ),
    (
        "RateLimit-Reset",
        "Seconds until that window starts over.",
    ),
];

const RETRY_AFTER: &str = "Retry-After";

/// Adds the request-limit headers to every answer of every operation in
/// `doc`, and `Retry-After` to every 429 that lacks it.
pub fn add_rate_limit_headers(doc: &mut Node) {
    if let Some(paths) = doc.object(&["paths"]) {
        for item in paths.values_mut() {
            let Node::Object(operations) = item else {
                continue;
            };
            for operation in operations.values_mut() {
                let Some(responses) = operation.object(&["responses"]) else {
                    continue;
                };
                for (status, response) in responses.iter_mut() {
                    let Node::Object(response) = response else {
                        continue;
                    };
                    let Node::Object(headers) = response
                        .entry("headers".to_string())
                        .or_insert_with(|| Node::Object(IndexMap::new()))
                    else {
                        continue;
                    };
                    for (name, _) in HEADERS {
                        headers.insert(name.to_string(), reference(name));
                    }
                    if status == "429" && !headers.contains_key(RETRY_AFTER) {
                        headers.insert(RETRY_AFTER.to_string(), reference(RETRY_AFTER));
                    }
                }
            }
        }
    }
    let Node::Object(root) = doc else {
        return;
    };
    let components = root
        .entry("components".to_string())
        .or_insert_with(|| Node::Object(IndexMap::new()));
    let Node::Object(components) = components else {
        return;
    };
    let declared = components
        .entry("headers".to_string())
        .or_insert_with(|| Node::Object(IndexMap::new()));
    let Node::Object(declared) = declared else {
        return;
    };
    for (name, description) in HEADERS {
        declared.insert(name.to_string(), header(description));
    }
    declared.insert(
        RETRY_AFTER.to_string(),
        header("Seconds to wait before trying again."),
    );
}

fn reference(name: &str) -> Node {
    Node::Leaf(json!({ "$ref": format!("#/components/headers/{name}") }))
}

fn header(description: &str) -> Node {
    Node::Leaf(json!({
        "description": description,
        "required": true,
        "schema": {"type": "integer", "format": "int64", "minimum": 0},
    }))
}

/// The names of the headers every answer carries, for the test that reads
/// them from the served document.
#[cfg(test)]
fn names() -> Vec<&'static str> {
    HEADERS.iter().map(|(name, _)| *name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn every_answer_gets_the_limit_headers_and_a_429_its_retry_after() {
        let spec = r##"{
          "paths": {"/x": {"get": {"responses": {
            "200": {"description": "ok"},
            "429": {"description": "slow down"},
            "503": {"description": "busy", "headers": {"Retry-After": {"schema": {"type": "integer"}}}}
          }}}},
          "components": {"schemas": {}}
        }"##;
        let mut tree = Node::parse(spec);
        add_rate_limit_headers(&mut tree);
        let doc: Value = serde_json::from_str(&tree.to_text()).unwrap();
        let responses = &doc["paths"]["/x"]["get"]["responses"];
        for status in ["200", "429", "503"] {
            for name in names() {
                assert_eq!(
                    responses[status]["headers"][name]["$ref"],
                    format!("#/components/headers/{name}"),
                    "{status} {name}"
                );
            }
        }
        assert_eq!(
            responses["429"]["headers"]["Retry-After"]["$ref"],
            "#/components/headers/Retry-After"
        );
        // One already there is kept as it was.
        assert_eq!(
            responses["503"]["headers"]["Retry-After"]["schema"]["type"],
            "integer"
        );
        assert!(responses["200"]["headers"].get("Retry-After").is_none());
        assert_eq!(
            doc["components"]["headers"]["RateLimit-Remaining"]["schema"]["type"],
            "integer"
        );
    }
}
