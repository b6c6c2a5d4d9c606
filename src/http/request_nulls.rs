//! One rule for absent values, written into the document: answers leave out
//! a field that has no value, and requests take `null` for an optional field
//! as if it were left out (poem-openapi reads both as `None`). So every
//! optional property of a schema that a JSON request body uses is marked
//! `nullable`; answers that share such a schema stay true to it, since they
//! never send `null`.

use std::collections::BTreeSet;

use indexmap::IndexMap;
use serde_json::Value;

use super::doc_tree::Node;

const SCHEMA_PREFIX: &str = "#/components/schemas/";

/// Marks the optional properties of request schemas in `doc` nullable.
pub fn mark_nullable(doc: &mut Node) {
    let mut pending = Vec::new();
    if let Some(paths) = doc.object(&["paths"]) {
        for item in paths.values_mut() {
            let Node::Object(operations) = item else {
                continue;
            };
            for operation in operations.values_mut() {
                let Some(content) = operation.object(&["requestBody", "content"]) else {
                    continue;
                };
                for (media_type, body) in content.iter_mut() {
                    if !media_type.starts_with("application/json") {
                        continue;
                    }
                    if let Some(schema) = body.object(&["schema"]) {
                        mark_optional_nullable(schema);
                    }
                    body.refs(&mut pending);
                }
            }
        }
    }
    let Some(schemas) = doc.object(&["components", "schemas"]) else {
        return;
    };
    // Schemas used by request bodies, and the schemas they use in turn.
    let mut used = BTreeSet::new();
    while let Some(target) = pending.pop() {
        let Some(name) = target.strip_prefix(SCHEMA_PREFIX) else {
            continue;
        };
        if !used.insert(name.to_string()) {
            continue;
        }
        if let Some(schema) = schemas.get(name) {
            schema.refs(&mut pending);
        }
    }
    for name in &used {
        if let Some(Node::Object(schema)) = schemas.get_mut(name) {
            mark_optional_nullable(schema);
        }
    }
}

/// Marks the properties of `schema` that `required` does not name.
fn mark_optional_nullable(schema: &mut IndexMap<String, Node>) {
    let required: BTreeSet<String> = match schema.get("required") {
        Some(Node::Leaf(Value::Array(names))) => names
            .iter()
            .filter_map(|n| n.as_str().map(str::to_string))
            .collect(),
        Some(Node::Array(names)) => names
            .iter()
            .filter_map(|n| match n {
                Node::Leaf(Value::String(s)) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => BTreeSet::new(),
    };
    let Some(Node::Object(properties)) = schema.get_mut("properties") else {
        return;
    };
    for (name, property) in properties.iter_mut() {
        if !required.contains(name) {
            make_nullable(property);
        }
    }
}

fn make_nullable(property: &mut Node) {
    let Node::Object(map) = property else {
        return;
    };
    // OpenAPI 3.0 ignores the siblings of a `$ref`: wrap it to say more.
    if let Some(target) = map.shift_remove("$ref") {
        let mut reference = IndexMap::new();
        reference.insert("$ref".to_string(), target);
        map.insert("allOf".into(), Node::Array(vec![Node::Object(reference)]));
    }
    map.insert("nullable".into(), Node::Leaf(Value::Bool(true)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_request_fields_are_nullable_and_required_ones_and_answers_are_not() {
        let spec = r##"{
          "paths": {"/x": {"post": {
            "requestBody": {"content": {"application/json; charset=utf-8": {"schema": {"$ref": "#/components/schemas/In"}}}},
            "responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Out"}}}}}
          }}},
          "components": {"schemas": {
            "In": {"type": "object", "required": ["name"], "properties": {
              "name": {"type": "string"}, "note": {"type": "string"},
              "inner": {"$ref": "#/components/schemas/Inner"}}},
            "Inner": {"type": "object", "properties": {"at": {"type": "string"}}},
            "Out": {"type": "object", "properties": {"id": {"type": "string"}}}
          }}
        }"##;
        let mut tree = Node::parse(spec);
        mark_nullable(&mut tree);
        let doc: Value = serde_json::from_str(&tree.to_text()).unwrap();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["In"]["properties"]["note"]["nullable"], true);
        assert!(schemas["In"]["properties"]["name"]
            .get("nullable")
            .is_none());
        let inner = &schemas["In"]["properties"]["inner"];
        assert_eq!(inner["nullable"], true);
        assert_eq!(inner["allOf"][0]["$ref"], "#/components/schemas/Inner");
        assert_eq!(schemas["Inner"]["properties"]["at"]["nullable"], true);
        assert!(schemas["Out"]["properties"]["id"].get("nullable").is_none());
    }
}
